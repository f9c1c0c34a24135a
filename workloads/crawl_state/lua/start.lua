-- Start a crawl: record its caps and claim its seeds at depth 0, with seqs 0, 1, ... in order. A crawl that
-- exists is left as it is, and the seeds its first start claimed are returned (a replayed start must not reset
-- a running crawl); their seqs are 0, 1, ... still.
-- KEYS[1] the crawl's meta hash, KEYS[2] its seen set or Bloom bitmap, KEYS[3] the crawls set
-- ARGV[1] name, ARGV[2] max_depth, ARGV[3] max_videos, ARGV[4] dedupe, ARGV[5] bloom_error,
-- ARGV[6] bits, ARGV[7] hashes (both 0 for dedupe "set"), ARGV[8] now_ms, ARGV[9] how many seeds the videos
-- cap cut, ARGV[10..] the seeds to claim (distinct, at most max_videos), for a Bloom filter each followed by
-- its bit positions, "p1,p2,...". Returns {0, seeds...} for a first start, {1, seeds...} for a replay.
local meta, seen, crawls = KEYS[1], KEYS[2], KEYS[3]
local function reply(status, seeds)
  local out = {status} -- a loop, not unpack: Lua's stack takes only a few thousand values
  for _, seed in ipairs(seeds) do
    out[#out + 1] = seed
  end
  return out
end

if redis.call('EXISTS', meta) == 1 then
  return reply(1, cjson.decode(redis.call('HGET', meta, 'seeds')))
end
local bits, hashes = tonumber(ARGV[6]), tonumber(ARGV[7])
local bloom = bits > 0
local seeds = {}
if bloom then
  redis.call('SETBIT', seen, ARGV[6] - 1, '0') -- allocate the whole filter now: its memory is known from the start
end
for i = 10, #ARGV, bloom and 2 or 1 do
  seeds[#seeds + 1] = ARGV[i]
  if bloom then
    for bit in string.gmatch(ARGV[i + 1], '%d+') do
      redis.call('SETBIT', seen, bit, '1')
    end
  else
    redis.call('SADD', seen, ARGV[i])
  end
end
redis.call('HSET', meta, 'max_depth', ARGV[2], 'max_videos', ARGV[3], 'dedupe', ARGV[4], 'bloom_error', ARGV[5],
  'bits', bits, 'hashes', hashes, 'started_ms', ARGV[8], 'claimed', #seeds, 'claimed:0', #seeds, 'done', 0,
  'cut_by_depth', 0, 'cut_by_cap', ARGV[9], 'seeds', cjson.encode(seeds))
redis.call('SADD', crawls, ARGV[1])
return reply(0, seeds)
