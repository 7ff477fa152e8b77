-- Ack: ARGV 1 connection id, 2.. message ids. Only ids leased to this connection are settled; others are ignored
-- (already acked, or the lease expired and the message moved on). Returns the number settled.
-- Invariant: an acked message is gone from every structure except settled (kept for publish idempotency).
local connection = ARGV[1]
local now = now_ms()
local acked = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', K_OWNERS, id) == connection then
    settle(id, now)
    acked = acked + 1
  end
end
if acked > 0 then redis.call('HINCRBY', K_STATS, 'acked_total', acked) end
return acked
