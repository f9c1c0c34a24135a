-- prune_dead: ARGV = died_before_ms, keep, limit. Forgets dead jobs that died before died_before_ms or are
-- beyond the newest `keep`, oldest first, at most `limit` per call: each goes with every field it has (record,
-- state, counts, checkpoint, error, progress, key). An index entry whose job is not dead (a damaged entry)
-- only loses the entry. Counts what it forgot in `dlqdropped`. Returns how many were forgotten, and how many
-- entries were taken out of the index (the caller calls again while that equals limit).
local cutoff, keep, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local excess = redis.call('ZCARD', P .. 'dlq') - keep
local oldest = redis.call('ZRANGE', P .. 'dlq', 0, limit - 1, 'WITHSCORES')
local ids = {}
for i = 1, #oldest, 2 do
  -- both rules take a prefix of the index (oldest first), so the first job that neither takes ends the run
  if #ids >= excess and tonumber(oldest[i + 1]) >= cutoff then break end
  ids[#ids + 1] = oldest[i]
end
if #ids == 0 then return { 0, 0 } end
local fields = {}
for i, id in ipairs(ids) do fields[i] = id .. ':s' end
local states = redis.call('HMGET', JOBS, unpack(fields))
local forget, dropped = {}, 0
for i, id in ipairs(ids) do
  local state = states[i]
  if not state or string.sub(state, 1, 2) == 'X|' then
    dropped = dropped + 1
    for _, suffix in ipairs({ '', ':s', ':c', ':k', ':e', ':g', ':i' }) do forget[#forget + 1] = id .. suffix end
  end
end
call_chunked('HDEL', JOBS, forget)
call_chunked('ZREM', P .. 'dlq', ids)
-- (a counter garbled by damage starts again from 0: common.lua incr_counter)
if dropped > 0 then incr_counter(P .. 'dlqdropped', dropped, function() return 0 end) end
return { dropped, #ids }
