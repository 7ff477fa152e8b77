-- Lease up to ARGV[2] waiting messages to connection ARGV[1], together at most ARGV[3] envelope bytes (0: no byte
-- limit); the first message is leased whatever its size, so a large message still moves.
-- Returns { status, lease_deadline_ms, id1, attempt1, envelope1, sequence1, id2, ... } with status 'ok', 'paused' or 'gone'.
-- Invariant: a leased id is in leases (score = deadline) and owners (= the connection) and nowhere in ready or
-- delayed; expired messages are never delivered; an id popped but not leased for lack of bytes goes back to ready
-- with its score (its place in the FIFO). A message's sequence is its ready score when first leased (publish and
-- replay take it from seq with INCR, so it only grows and is the same on every replica); it is kept in state, as
-- a retried or released message comes back to ready with score 0.
-- ARGV 4 and 5: the connection's connector id and protocol, for the history's delivery record.
-- Each round reads expiry, state and record of all the popped ids with one command each, and writes the leases
-- with one command per structure, instead of one command per message and structure (what the messages of a round
-- have in common: a message's reads and writes touch only its own fields, and expire() of one of them reads only
-- its own). The envelopes stay one HGET each: reading them is what max_bytes bounds.
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
  local ids = {}
  for i = 1, #popped, 2 do ids[#ids + 1] = popped[i] end
  local expiries = scores_of(K_EXPIRY, ids)
  local states = read_many('HMGET', K_STATE, ids)
  local recs = read_many('HMGET', K_HIST_REC, ids)
  local state_w, lease_w, owner_w, rec_w = {}, {}, {}, {}
  for n = 1, #ids do
    local id = ids[n]
    local expires = expiries[n]
    local envelope = nil
    if not full then envelope = redis.call('HGET', K_MESSAGES, id) end
    if envelope and max_bytes > 0 and delivered > 0 and bytes + #envelope > max_bytes then full = true end
    if full then
      redis.call('ZADD', K_READY, popped[2 * n], id)
    elseif not envelope then
      -- stale entry (the message was settled meanwhile): drop it
    elseif expires and tonumber(expires) <= now then
      expire(id, now)
    else
      local attempts, first, _, sequence = parse_state(states[n])
      attempts = attempts + 1
      if first == 0 then first = now end
      if sequence == 0 then sequence = tonumber(popped[2 * n]) end
      push(state_w, id, attempts .. '|' .. first .. '|' .. now .. '|' .. string.format('%d', sequence))
      push(lease_w, deadline, id)
      push(owner_w, id, connection)
      local rec = recs[n]
      local series = '0'
      if rec then series = string.match(rec, '^[^\31]*\31[^\31]*\31[^\31]*\31(%d+)') or '0' end
      local attempt = table.concat({ series, attempts, now, connection, connector, protocol }, US)
      if rec then push(rec_w, id, hist_record(rec, 'F', now, nil, RS .. attempt)) end
      tail('D', now, id, attempt)
      out[#out + 1] = id
      out[#out + 1] = tostring(attempts)
      out[#out + 1] = envelope
      out[#out + 1] = string.format('%d', sequence)
      delivered = delivered + 1
      bytes = bytes + #envelope
    end
  end
  write_many('HSET', K_STATE, state_w)
  write_many('ZADD', K_LEASES, lease_w)
  write_many('HSET', K_OWNERS, owner_w)
  write_many('HSET', K_HIST_REC, rec_w)
end
if delivered > 0 then redis.call('HINCRBY', K_STATS, 'delivered_total', delivered) end
return out
