-- Ack: ARGV 1 connection id, then 3 per message: id, target status code (0: unknown), target duration in
-- microseconds ('' unknown). Only ids leased to this connection are settled; others are ignored (already acked, or
-- the lease expired and the message moved on). Returns the ids settled, each once, in the order named (the queue-manager
-- sends the single acks of one connection that arrive together in one call, and answers each from this list).
-- Invariant: an acked message is gone from every structure except settled (kept for publish idempotency) and the
-- history (which keeps its envelope and delivery record, common.lua).
-- This is settle() (common.lua) for many messages: the history is closed message by message (hist_close may trim
-- entries settled a moment earlier, so their records must be written by then), while the owners, the records and
-- the hist scores are read and the live structures, messages and settled are written with one command each for the
-- whole call. The records and scores read up front stay true while the loop runs: only a message's own hist_close
-- changes them, and hist_trim drops settled entries only, which a leased message is not. An id named twice is
-- settled once (`seen`), as the second HGET owners of one at a time would have found it gone.
local connection = ARGV[1]
local now = now_ms()
local ids = {}
for i = 2, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
local owners = read_many('HMGET', K_OWNERS, ids)
local gone, seen = {}, {}
for n = 1, #ids do
  local id = ids[n]
  if owners[n] == connection and not seen[id] then
    seen[id] = n
    gone[#gone + 1] = id
  end
end
if #gone == 0 then return {} end
local recs = read_many('HMGET', K_HIST_REC, gone)
local scores = scores_of(K_HIST, gone)
local settled = {}
local bytes = 0
for k = 1, #gone do
  local id, n = gone[k], seen[gone[k]]
  local status, duration = ARGV[3 * n], ARGV[3 * n + 1]
  local rec, envelope = hist_close(id, 'A', now, attempt_end('ACKED', now, status, duration, ''), recs[k], scores[k] or nil)
  if rec then
    bytes = bytes + #(envelope or '')
  else
    bytes = bytes + redis.call('HSTRLEN', K_MESSAGES, id)
  end
  push(settled, now, id)
  tail('S', now, id, 'ACKED', status, duration, '', last_attempt(rec))
end
unlink_leased(gone)
forget_messages(gone, bytes)
write_many('ZADD', K_SETTLED, settled)
redis.call('HINCRBY', K_STATS, 'acked_total', #gone)
return gone
