-- touch: ARGV = mode ('heartbeat'|'checkpoint'), value (expiry ms | checkpoint JSON), then id, token pairs.
-- Acts only on leases held under the given token; returns 1|0 per pair.
local mode, value = ARGV[1], ARGV[2]
local ids = {}
for i = 3, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local infos = redis.call('HMGET', P .. 'lease', unpack(ids))
local out, live = {}, {}
for i, id in ipairs(ids) do
  out[i] = 0
  if infos[i] and string.match(infos[i], '^(%d+)|') == ARGV[2 * i + 2] then
    out[i] = 1
    if mode == 'heartbeat' then
      live[#live + 1] = value
      live[#live + 1] = id
    else
      redis.call('HSET', P .. 'ckpt', id, value)
    end
  end
end
if #live > 0 then call_chunked('ZADD', P .. 'leases', live) end
return out
