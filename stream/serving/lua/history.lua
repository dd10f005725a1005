-- One partition's history, sizes and stage figures, read in one step.
-- KEYS[1]: the partition's offset key. ARGV[1]: prefix; ARGV[2]: 'hm' (minutes) or 'hh'
-- (hours); ARGV[3]: how many of the newest buckets.
-- Returns {offset or false, {sizes as field, value...}, {all-time entries...},
-- {contacts per stage...}, {stage moves "from>to", count...}, {start, {field, value...}, ...}}.
local pre = ARGV[1]
local index = pre .. ARGV[2]
local buckets = {}
for _, start in ipairs(redis.call('ZRANGE', index, -tonumber(ARGV[3]), -1)) do
  buckets[#buckets + 1] = start
  buckets[#buckets + 1] = redis.call('HGETALL', index .. ':' .. start)
end
return {
  redis.call('GET', KEYS[1]),
  redis.call('HGETALL', pre .. 'n'),
  redis.call('HGETALL', pre .. 'te'),
  redis.call('HGETALL', pre .. 'st'),
  redis.call('HGETALL', pre .. 'mv'),
  buckets,
}
