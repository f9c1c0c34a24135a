-- Whether one video of a crawl is done, by its seq. A script, not two reads: the finish that ends the crawl
-- drops the bitmap, and must not do so between reading the crawl's state and reading the bit.
-- KEYS[1] the crawl's meta hash, KEYS[2] its done bitmap
-- ARGV[1] seq
-- Returns 1 or 0, -1 for an unknown crawl, -3 for a seq that no video has.
local state = redis.call('HMGET', KEYS[1], 'claimed', 'finished_ms')
if not state[1] then
  return -1
end
if tonumber(ARGV[1]) >= tonumber(state[1]) then
  return -3 -- checked before GETBIT, which refuses offsets past 2^32
end
if state[2] then
  return 1 -- a finished crawl: every seq is done, though the bitmap that said so is gone
end
return redis.call('GETBIT', KEYS[2], ARGV[1])
