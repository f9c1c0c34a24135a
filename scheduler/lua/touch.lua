-- touch: ARGV = mode ('heartbeat'|'checkpoint'|'progress'), value (expiry ms | checkpoint JSON | progress
-- JSON), then id, token pairs. Acts only on leases held under the given token; returns 1|0 per pair.
local mode, value = ARGV[1], ARGV[2]
local field = ({ checkpoint = ':k', progress = ':g' })[mode]
if mode ~= 'heartbeat' and not field then return redis.error_reply('touch: unknown mode ' .. mode) end
local ask = {}
for i = 3, #ARGV, 2 do ask[#ask + 1] = ARGV[i] .. ':s' end
local states = redis.call('HMGET', JOBS, unpack(ask))
local out, live = {}, {}
for i = 1, #ask do
  local id = ARGV[2 * i + 1]
  out[i] = 0
  if states[i] and string.match(states[i], '^R|(%d+)|') == ARGV[2 * i + 2] then
    out[i] = 1
    if mode == 'heartbeat' then
      live[#live + 1] = value
      live[#live + 1] = id
    else
      redis.call('HSET', JOBS, id .. field, value)
    end
  end
end
if #live > 0 then call_chunked('ZADD', P .. 'leases', live) end
return out
