-- Lease up to ARGV[2] waiting messages to connection ARGV[1], together at most ARGV[3] envelope bytes (0: no byte
-- limit); the first message is leased whatever its size, so a large message still moves.
-- Returns { status, lease_deadline_ms, id1, attempt1, envelope1, sequence1, id2, ... } with status 'ok', 'paused' or 'gone'.
-- Invariant: a leased id is in leases (score = deadline) and owners (= the connection) and nowhere in ready or
-- delayed; expired messages are never delivered; an id popped but not leased for lack of bytes goes back to ready
-- with its score (its place in the FIFO). A message's sequence is its ready score when first leased (publish and
-- replay take it from seq with INCR, so it only grows and is the same on every replica); it is kept in state, as
-- a retried or released message comes back to ready with score 0.
-- ARGV 4 and 5: the connection's connector id and protocol, for the history's delivery record.
local connection, wanted, max_bytes = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]) or 0
local connector, protocol = ARGV[4] or '', ARGV[5] or ''
if not redis.call('ZSCORE', K_CONNS, connection) then return { 'gone' } end
if cfg_number('paused', 0) == 1 then return { 'paused' } end
local now = now_ms()
local deadline = now + cfg_number('ack_timeout_ms', 30000)
local out = { 'ok', tostring(deadline) }
local delivered = 0
local bytes = 0
local full = false
local rounds = 0
while delivered < wanted and rounds < 8 and not full do
  rounds = rounds + 1
  local popped = redis.call('ZPOPMIN', K_READY, wanted - delivered)
  if #popped == 0 then break end
  for i = 1, #popped, 2 do
    local id = popped[i]
    local expires = redis.call('ZSCORE', K_EXPIRY, id)
    local envelope = nil
    if not full then envelope = redis.call('HGET', K_MESSAGES, id) end
    if envelope and max_bytes > 0 and delivered > 0 and bytes + #envelope > max_bytes then full = true end
    if full then
      redis.call('ZADD', K_READY, popped[i + 1], id)
    elseif not envelope then
      -- stale entry (the message was settled meanwhile): drop it
    elseif expires and tonumber(expires) <= now then
      expire(id, now)
    else
      local attempts, first, _, sequence = read_state(id)
      attempts = attempts + 1
      if first == 0 then first = now end
      if sequence == 0 then sequence = tonumber(popped[i + 1]) end
      redis.call('HSET', K_STATE, id, attempts .. '|' .. first .. '|' .. now .. '|' .. string.format('%d', sequence))
      redis.call('ZADD', K_LEASES, deadline, id)
      redis.call('HSET', K_OWNERS, id, connection)
      local rec = redis.call('HGET', K_HIST_REC, id)
      local series = '0'
      if rec then series = string.match(rec, '^[^\31]*\31[^\31]*\31[^\31]*\31(%d+)') or '0' end
      local attempt = table.concat({ series, attempts, now, connection, connector, protocol }, US)
      if rec then hist_update(id, 'F', now, nil, RS .. attempt, rec) end
      tail('D', now, id, attempt)
      out[#out + 1] = id
      out[#out + 1] = tostring(attempts)
      out[#out + 1] = envelope
      out[#out + 1] = string.format('%d', sequence)
      delivered = delivered + 1
      bytes = bytes + #envelope
    end
  end
end
if delivered > 0 then redis.call('HINCRBY', K_STATS, 'delivered_total', delivered) end
return out
