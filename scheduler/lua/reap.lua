-- reap: ARGV = now, limit. Re-queues (or dead-letters) expired leases and makes due retries pending.
local n = reap(tonumber(ARGV[1]), tonumber(ARGV[2]))
promote_delayed(tonumber(ARGV[1]), tonumber(ARGV[2]))
return n
