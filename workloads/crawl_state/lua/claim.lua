-- Claim a parent's children: test-and-set each candidate against the crawl's seen set (or Bloom filter) under
-- the caps, give the claimed ones the next seqs (the claim counter is the crawl's `claimed` total), and record
-- what this parent claimed, so that a replayed claim returns the same children with the same seqs. The record
-- lives until the parent's finish (finish.lua drops it); a claim for a finished parent claims nothing.
-- KEYS[1] the crawl's meta hash, KEYS[2] its seen set or Bloom bitmap, KEYS[3] its claims hash, KEYS[4] its
-- done bitmap
-- ARGV[1] the parent's seq, ARGV[2] child_depth, ARGV[3] bits and ARGV[4] hashes the caller computed positions
-- for (0 and 0: dedupe "set"), ARGV[5..] the candidates (distinct), for a Bloom filter each followed by its bit
-- positions, "p1,p2,...". Positions stay strings: SETBIT parses them, where a Lua number would need sprintf.
-- Returns {0, first_seq, claimed...} for a first claim (the claimed videos' seqs are first_seq, first_seq + 1,
-- ...), {1, first_seq, claimed...} for a replay, {-1} for an unknown crawl, {-2, bits, hashes} when the
-- caller's filter shape is not the crawl's (the caller retries with this one), {-3} for a parent seq that no
-- video has.
local meta, seen, claims, done = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local parent, depth = ARGV[1], tonumber(ARGV[2])
local caps = redis.call('HMGET', meta, 'max_depth', 'max_videos', 'claimed', 'bits', 'hashes', 'finished_ms')
if not caps[1] then
  return {-1}
end
local claimed = tonumber(caps[3])
if tonumber(parent) >= claimed then
  return {-3}
end

local function prepend(head, videos) -- a loop, not unpack: Lua's stack takes only a few thousand values
  local out = {head}
  for _, video in ipairs(videos) do
    out[#out + 1] = video
  end
  return out
end

-- A finished parent (or crawl): the run that finished it queued its children already, so a duplicate delivery
-- gets nothing to queue, and must not claim again now that the parent's record is gone.
if caps[6] or redis.call('GETBIT', done, parent) == 1 then
  return {1, claimed}
end
local recorded = redis.call('HGET', claims, parent)
if recorded then -- {first_seq, video...}
  return prepend(1, cjson.decode(recorded))
end
local bits, hashes = tonumber(caps[4]), tonumber(caps[5])
if bits ~= tonumber(ARGV[3]) or hashes ~= tonumber(ARGV[4]) then
  return {-2, bits, hashes}
end

-- Bloom: a video is seen when all its bits are set (a false positive skips a new video, never repeats one).
local bloom = hashes > 0
local step = bloom and 2 or 1

local function is_seen(at)
  if not bloom then
    return redis.call('SISMEMBER', seen, ARGV[at]) == 1
  end
  for bit in string.gmatch(ARGV[at + 1], '%d+') do
    if redis.call('GETBIT', seen, bit) == 0 then return false end
  end
  return true
end

local function try_claim(at) -- test-and-set: true when the video was not seen, and now is
  if not bloom then
    return redis.call('SADD', seen, ARGV[at]) == 1
  end
  local was_clear = false -- SETBIT returns the bit's old value: one pass both tests and sets
  for bit in string.gmatch(ARGV[at + 1], '%d+') do
    if redis.call('SETBIT', seen, bit, '1') == 0 then was_clear = true end
  end
  return was_clear
end

local room = tonumber(caps[2]) - claimed
local new, cut = {}, 0
if depth > tonumber(caps[1]) then
  redis.call('HINCRBY', meta, 'cut_by_depth', (#ARGV - 4) / step)
else
  for at = 5, #ARGV, step do
    if #new < room then
      if try_claim(at) then new[#new + 1] = ARGV[at] end
    elseif not is_seen(at) then
      cut = cut + 1 -- the videos cap: a video already seen is not counted anywhere
    end
  end
end
if #new > 0 then
  redis.call('HINCRBY', meta, 'claimed', #new)
  redis.call('HINCRBY', meta, 'claimed:' .. depth, #new)
end
if cut > 0 then
  redis.call('HINCRBY', meta, 'cut_by_cap', cut)
end
local record = prepend(claimed, new) -- {first_seq, video...}
redis.call('HSET', claims, parent, cjson.encode(record))
return prepend(0, record)
