-- Ack: ARGV 1 connection id, then 3 per message: id, target status code (0: unknown), target duration in
-- microseconds ('' unknown). Only ids leased to this connection are settled; others are ignored (already acked, or
-- the lease expired and the message moved on). Returns the number settled.
-- Invariant: an acked message is gone from every structure except settled (kept for publish idempotency) and the
-- history (which keeps its envelope and delivery record, common.lua).
local connection = ARGV[1]
local now = now_ms()
local acked = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('HGET', K_OWNERS, id) == connection then
    local status, duration = ARGV[i + 1], ARGV[i + 2]
    local rec = settle(id, now, 'A', attempt_end('ACKED', now, status, duration, ''))
    tail('S', now, id, 'ACKED', status, duration, '', last_attempt(rec))
    acked = acked + 1
  end
end
if acked > 0 then redis.call('HINCRBY', K_STATS, 'acked_total', acked) end
return acked
