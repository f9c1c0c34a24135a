-- prune_expired: ARGV = now, count. Forgets records whose time has passed, a bounded number per call:
-- * demotion records whose until_ms has passed (and garbled ones, which no reader can use): one HSCAN step per
--   call from where the last call stopped (the cursor is kept in `demotedscan`), so no call walks the whole
--   hash, and over successive calls every record is looked at;
-- * up to `count` entries of `hmins` whose minute's history hash has expired (HISTORY_TTL_S).
-- Returns how many demotion records were forgotten.
local now, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local cursor = redis.call('GET', P .. 'demotedscan') or '0'
local reply = redis.pcall('HSCAN', P .. 'demoted', cursor, 'COUNT', count)
if reply.err then reply = redis.call('HSCAN', P .. 'demoted', '0', 'COUNT', count) end -- a cursor garbled by damage
local found, ended = reply[2], {}
for i = 1, #found, 2 do
  local untl = string.match(found[i + 1], '^%d+|(%d+)$')
  if not untl or tonumber(untl) <= now then ended[#ended + 1] = found[i] end
end
if #ended > 0 then call_chunked('HDEL', P .. 'demoted', ended) end
if reply[1] == '0' then
  redis.call('DEL', P .. 'demotedscan')
else
  redis.call('SET', P .. 'demotedscan', reply[1])
end

local expired_before = math.floor(now / 60000) - HISTORY_TTL_S / 60
local minutes = redis.call('ZRANGEBYSCORE', P .. 'hmins', '-inf', '(' .. expired_before, 'LIMIT', 0, count)
if #minutes > 0 then redis.call('ZREM', P .. 'hmins', unpack(minutes)) end
return #ended
