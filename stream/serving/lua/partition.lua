-- One partition's offset, segment sizes, counters and open gaps, read in one step.
-- KEYS[1]: the partition's offset key. ARGV[1]: prefix.
-- Returns {offset or false, {segment sizes as field, value...}, {counters...}, open gaps}.
local pre = ARGV[1]
return {
  redis.call('GET', KEYS[1]),
  redis.call('HGETALL', pre .. 'n'),
  redis.call('HGETALL', pre .. 'x'),
  redis.call('ZCARD', pre .. 'g'),
}
