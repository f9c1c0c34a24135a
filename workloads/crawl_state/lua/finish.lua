-- Mark one video of a crawl done, by its seq, once, and drop the claim it recorded as a parent (a re-run after
-- this checks is_done first, so nothing replays it). The call after which every claimed video is done finishes
-- the crawl and drops the done bitmap and any claims left: a finished crawl answers without them.
-- KEYS[1] the crawl's meta hash, KEYS[2] its done bitmap, KEYS[3] its claims hash
-- ARGV[1] seq, ARGV[2] its depth, ARGV[3] now_ms
-- Returns {first, crawl_finished} as 0 or 1, {-1} for an unknown crawl, {-3} for a seq that no video has.
local meta, done, claims = KEYS[1], KEYS[2], KEYS[3]
local seq = ARGV[1]
local state = redis.call('HMGET', meta, 'claimed', 'finished_ms')
if not state[1] then
  return {-1}
end
local claimed = tonumber(state[1])
if tonumber(seq) >= claimed then
  return {-3}
end
if state[2] then
  return {0, 0} -- a finished crawl: every seq is done, though the bitmap that said so is gone
end
if redis.call('SETBIT', done, seq, '1') == 1 then
  return {0, 0} -- SETBIT returns the bit's old value: a set one means finished before
end
redis.call('HDEL', claims, seq)
redis.call('HINCRBY', meta, 'done:' .. ARGV[2], 1)
if redis.call('HINCRBY', meta, 'done', 1) < claimed then
  return {1, 0}
end
-- Every seq is done, and stays so: no parent can claim again (claim.lua refuses finished parents).
redis.call('HSET', meta, 'finished_ms', ARGV[3])
redis.call('UNLINK', done, claims)
return {1, 1}
