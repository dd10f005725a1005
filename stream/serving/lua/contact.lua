-- A contact's stored fields and its partition's offset, read in one step.
-- KEYS[1]: the partition's offset key; KEYS[2]: the contact's key (same hash tag).
-- Returns {offset or false, field, value, ...}.
local out = {redis.call('GET', KEYS[1])}
for _, item in ipairs(redis.call('HGETALL', KEYS[2])) do
  out[#out + 1] = item
end
return out
