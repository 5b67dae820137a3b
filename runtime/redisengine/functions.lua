#!lua name=duplex

-- The Redis engine's functions (docs/engine.md, "The Redis engine").
-- Redis runs each one atomically. Keys are passed by the engine; the
-- record keys of duplex_takeexpired come from its index. Epochs stay
-- strings here: Lua numbers cannot hold 64 bits.

local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function id(g)
	return string.format('%d', g)
end

-- epoch returns the epoch, created from cand when Redis lost it.
local function epoch(key, cand)
	local e = redis.call('GET', key)
	if not e then
		redis.call('SET', key, cand)
		e = cand
	end
	return e
end

-- ttl_bound returns the newest gseq that a topic dropped by its TTL may
-- have held: one below the first clock sample taken after now - ttl (all
-- events before it are older), or the counter when there is none.
local function ttl_bound(clock, gseq, now, ttl)
	local s = redis.call('ZRANGE', clock, '(' .. (now - ttl), '+inf', 'BYSCORE', 'LIMIT', 0, 1)
	if s[1] then
		return tonumber(s[1]) - 1
	end
	return tonumber(redis.call('GET', gseq) or '0')
end

-- duplex_publish: KEYS epoch, gseq, clock, stream; ARGV candidate epoch,
-- channel, payload, max length, topic TTL ms, history age ms (0: none).
-- Each entry keeps in field v the ID of the entry before it in its topic,
-- so that the first entry left after trimming tells the newest one gone.
local function publish(keys, args)
	local e = epoch(keys[1], args[1])
	local now = now_ms()
	local ttl, age = tonumber(args[5]), tonumber(args[6])
	local prev
	local last = redis.call('XREVRANGE', keys[4], '+', '-', 'COUNT', 1)
	if last[1] then
		prev = string.match(last[1][1], '^(%d+)')
	else
		-- A new stream, or one that expired: its events may be any up
		-- to the TTL bound.
		prev = id(math.max(ttl_bound(keys[3], keys[2], now, ttl), 0))
	end
	local g = redis.call('INCR', keys[2])
	local gs = id(g)
	redis.call('XADD', keys[4], 'MAXLEN', args[4], gs .. '-0', 'p', args[3], 'v', prev)
	if age > 0 then
		local s = redis.call('ZRANGE', keys[3], now - age, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)
		if s[1] then
			redis.call('XTRIM', keys[4], 'MINID', s[1] .. '-0')
		end
	end
	redis.call('PEXPIRE', keys[4], ttl)
	local top = redis.call('ZRANGE', keys[3], -1, -1, 'WITHSCORES')
	if not top[1] or math.floor(tonumber(top[2]) / 1000) < math.floor(now / 1000) then
		redis.call('ZADD', keys[3], now, gs)
		redis.call('ZREMRANGEBYSCORE', keys[3], '-inf', '(' .. (now - math.max(ttl, age) - 60000))
	end
	redis.call('PUBLISH', args[2], e .. ':' .. gs .. ':' .. args[3])
	return {e, g}
end

-- duplex_epoch: KEYS epoch; ARGV candidate. The epoch, created if missing.
local function get_epoch(keys, args)
	return epoch(keys[1], args[1])
end

-- duplex_newepoch: KEYS epoch; ARGV old epoch, candidate. Replaces the
-- epoch with the candidate if it is still the old one (or missing), and
-- returns the epoch.
local function new_epoch(keys, args)
	local e = redis.call('GET', keys[1])
	if not e or e == args[1] then
		redis.call('SET', keys[1], args[2])
		return args[2]
	end
	return e
end

-- duplex_sync: KEYS epoch, gseq; ARGV candidate epoch, node channel,
-- token. Publishes token:epoch:gseq to the node, behind every publish so
-- far.
local function sync(keys, args)
	local e = epoch(keys[1], args[1])
	local g = redis.call('GET', keys[2]) or '0'
	redis.call('PUBLISH', args[2], args[3] .. ':' .. e .. ':' .. g)
	return {e, tonumber(g)}
end

local function entries(l)
	local out = {}
	for _, en in ipairs(l) do
		out[#out + 1] = en[1]
		out[#out + 1] = en[2][2] -- field p
	end
	return out
end

-- duplex_history: KEYS epoch, gseq, clock, streams...; ARGV after, back,
-- limit (0: all), topic TTL ms, expected epoch. Returns the epoch, the
-- counter, the TTL bound, then per stream {0} when it is missing or
-- {1, newest trimmed gseq, back entries, forward entries}, entries as
-- flat id, payload lists. Stops after the first three when the epoch is
-- not the expected one or after is ahead of the counter.
local function history(keys, args)
	local e = redis.call('GET', keys[1]) or ''
	local g = tonumber(redis.call('GET', keys[2]) or '0')
	local after, back, limit = args[1], tonumber(args[2]), tonumber(args[3])
	if e ~= args[5] or tonumber(after) > g then
		return {e, g, 0}
	end
	local out = {e, g, ttl_bound(keys[3], keys[2], now_ms(), tonumber(args[4]))}
	for i = 4, #keys do
		local k = keys[i]
		local first = redis.call('XRANGE', k, '-', '+', 'COUNT', 1)
		if not first[1] then
			out[#out + 1] = {0}
		else
			local b, f = {}, nil
			if back > 0 then
				b = redis.call('XREVRANGE', k, after .. '-0', '-', 'COUNT', back)
			end
			if limit > 0 then
				f = redis.call('XRANGE', k, '(' .. after .. '-0', '+', 'COUNT', limit)
			else
				f = redis.call('XRANGE', k, '(' .. after .. '-0', '+')
			end
			out[#out + 1] = {1, tonumber(first[1][2][4]), entries(b), entries(f)}
		end
	end
	return out
end

-- duplex_claim: KEYS group hash; ARGV key, owner. {holder, won}.
local function claim(keys, args)
	if redis.call('HSETNX', keys[1], args[1], args[2]) == 1 then
		return {args[2], 1}
	end
	local h = redis.call('HGET', keys[1], args[1])
	if h == args[2] then
		return {h, 1}
	end
	return {h, 0}
end

-- duplex_release: KEYS group hash; ARGV key, owner. 1 if released.
local function release(keys, args)
	if redis.call('HGET', keys[1], args[1]) == args[2] then
		redis.call('HDEL', keys[1], args[1])
		return 1
	end
	return 0
end

-- Session records: KEYS record, expiry index (a sorted set of record
-- keys by ExpiresAt in ms). A record's key lives grace ms past its
-- expiry, for duplex_takeexpired; expiry is judged by Redis's clock.

-- duplex_save: ARGV expires at ms, grace ms, record.
local function save(keys, args)
	redis.call('SET', keys[1], args[3], 'PXAT', tonumber(args[1]) + tonumber(args[2]))
	redis.call('ZADD', keys[2], args[1], keys[1])
	return 'ok'
end

-- duplex_update: ARGV as duplex_save. 'ok', 'notfound' or 'expired'.
local function update(keys, args)
	if redis.call('EXISTS', keys[1]) == 0 then
		redis.call('ZREM', keys[2], keys[1])
		return 'notfound'
	end
	local s = redis.call('ZSCORE', keys[2], keys[1])
	if s and tonumber(s) <= now_ms() then
		redis.call('DEL', keys[1])
		redis.call('ZREM', keys[2], keys[1])
		return 'expired'
	end
	return save(keys, args)
end

-- duplex_take: {'ok', record}, {'notfound'} or {'expired', record}: whoever
-- removes an expired record ends its session, so it gets the record too.
local function take(keys, args)
	local v = redis.call('GET', keys[1])
	local s = redis.call('ZSCORE', keys[2], keys[1])
	redis.call('DEL', keys[1])
	redis.call('ZREM', keys[2], keys[1])
	if not v then
		return {'notfound'}
	end
	if s and tonumber(s) <= now_ms() then
		return {'expired', v}
	end
	return {'ok', v}
end

-- duplex_takeexpired: KEYS expiry index; ARGV limit. Removes and returns
-- up to limit expired records.
local function take_expired(keys, args)
	local limit, now, out = tonumber(args[1]), now_ms(), {}
	while #out < limit do
		local ks = redis.call('ZRANGE', keys[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit - #out)
		if not ks[1] then
			break
		end
		for _, k in ipairs(ks) do
			local v = redis.call('GET', k)
			redis.call('DEL', k)
			redis.call('ZREM', keys[1], k)
			if v then
				out[#out + 1] = v
			end
		end
	end
	return out
end

redis.register_function('duplex_publish', publish)
redis.register_function('duplex_epoch', get_epoch)
redis.register_function('duplex_newepoch', new_epoch)
redis.register_function('duplex_sync', sync)
redis.register_function{function_name = 'duplex_history', callback = history, flags = {'no-writes'}}
redis.register_function('duplex_claim', claim)
redis.register_function('duplex_release', release)
redis.register_function('duplex_save', save)
redis.register_function('duplex_update', update)
redis.register_function('duplex_take', take)
redis.register_function('duplex_takeexpired', take_expired)
