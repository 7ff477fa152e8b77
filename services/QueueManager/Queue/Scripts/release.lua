-- Release the leases a closing connection holds: ARGV 1 connection id, 2 events channel, 3 channel name,
-- 4.. message ids. Released messages are deliverable at once (front of the queue); a message whose delivery
-- budget is spent is dead-lettered instead. Ids not leased to the connection are ignored. Returns the count.
local connection = ARGV[1]
local now = now_ms()
local released = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', K_OWNERS, id) == connection then
    redis.call('ZREM', K_LEASES, id)
    redis.call('HDEL', K_OWNERS, id)
    attempt_failed(id, 'RELEASED', now, 0, '', 'connection closed')
    local attempts = read_state(id)
    if attempts >= cfg_number('max_delivery_attempts', 10) then
      dead_letter(id, 'MAX_ATTEMPTS', 'connection closed', 0, now)
    else
      redis.call('ZADD', K_READY, 0, id)
      released = released + 1
    end
  end
end
if released > 0 then wake(ARGV[2], ARGV[3]) end
return released
