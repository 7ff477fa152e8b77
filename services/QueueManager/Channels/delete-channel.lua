-- Deletes one channel: every key of it, in one step.
-- Invariant: a channel exists exactly when its config hash exists, and its keys appear and disappear together,
-- so no reader (Publish, Connect, the endpoint table, admin reads) ever sees a half-deleted channel.
-- KEYS[1] config, KEYS[2] endpoints, KEYS[3] connections (sorted set), KEYS[4] connection info (hash),
-- KEYS[5..] every key of the channel (ChannelKeys.All), all in the channel's hash slot.
-- Returns nil when the channel does not exist, otherwise { endpoint fields, connection ids } so that the caller
-- can clean the cross-slot indexes (endpoint index, connection index) afterwards.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local endpoints = redis.call('HKEYS', KEYS[2])
local connections = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do
  table.insert(connections, id)
end
for i = 5, #KEYS do
  redis.call('DEL', KEYS[i])
end
return { endpoints, connections }
