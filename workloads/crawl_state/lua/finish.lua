-- Mark one video of a crawl done, once; the call after which every claimed video is done finishes the crawl.
-- KEYS[1] the crawl's meta hash, KEYS[2] its done set
-- ARGV[1] video, ARGV[2] its depth, ARGV[3] now_ms
-- Returns {first, crawl_finished} as 0 or 1, or {-1} for an unknown crawl.
local meta, done = KEYS[1], KEYS[2]
if redis.call('EXISTS', meta) == 0 then
  return {-1}
end
if redis.call('SADD', done, ARGV[1]) == 0 then
  return {0, 0}
end
redis.call('HINCRBY', meta, 'done:' .. ARGV[2], 1)
local total = redis.call('HINCRBY', meta, 'done', 1)
-- HSETNX: finished_ms is set once, so only one call can see the crawl finish.
local claimed = tonumber(redis.call('HGET', meta, 'claimed'))
if total >= claimed and redis.call('HSETNX', meta, 'finished_ms', ARGV[3]) == 1 then
  return {1, 1}
end
return {1, 0}
