-- reap: ARGV = now, limit. Re-queues (or dead-letters) expired leases and forgets held idempotency keys
-- whose hold has ended. (Due retries become pending on the next lease, as the contract says.)
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = reap(now, limit)
local ended = redis.call('ZRANGEBYSCORE', P .. 'oncez', '-inf', now, 'LIMIT', 0, limit)
if #ended > 0 then
  redis.call('HDEL', P .. 'once', unpack(ended))
  redis.call('ZREM', P .. 'oncez', unpack(ended))
end
return n
