// The fleet's heartbeat, one Lua script: a gateway renews its lease and takes its share of each
// backend's max_concurrency, atomically, so the shares never add up to more than the limit.
//
// Keys, under the prefix P:
//   P fleet:gateways     sorted set: gateway id → when its lease ends (Redis's clock, ms)
//   P fleet:<backend>    hash: gateway id → JSON { held, demand, inFlight: { replica URL → n } }
//
// ARGV: prefix, gateway id, lease ms, then a JSON list of this gateway's backends:
//   { name, max, limit (what this gateway may have in flight per replica now), inUse (its most on
//     one replica), demand (per replica: in use plus what waits), inFlight: { url → n } }
// Returns JSON: { gateways, rank, backends: { name → { grant, target, held, elsewhere: { url → n } } } }:
// grant is this gateway's limit from now; target its fair share (more than grant while others
// still hold it); held what the fleet counts it as holding until its next heartbeat.
//
// Each backend's max_concurrency is divided max-min fair by demand (no gateway gets more than it
// asks while another wants more; what nobody asks for is split evenly, so an idle gateway keeps
// room for a burst), then bounded by what the other gateways hold: a share grows only into free
// slots. What a gateway holds in Redis is never below what it may have in flight: when its share
// shrinks, its old limit stays held until its next heartbeat (requests may have gone out under it
// while this one was on its way). A gateway whose lease ends (it died) holds nothing any more.
export const BEAT = `
local P = ARGV[1]
local me = ARGV[2]
local lease = tonumber(ARGV[3])
local mine = cjson.decode(ARGV[4])
local GATEWAYS = P .. 'fleet:gateways'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', GATEWAYS, now + lease, me)
redis.call('ZREMRANGEBYSCORE', GATEWAYS, '-inf', now)
local live = redis.call('ZRANGE', GATEWAYS, 0, -1)
table.sort(live)
local isLive, rank = {}, 0
for i, id in ipairs(live) do
  isLive[id] = true
  if id == me then rank = i - 1 end
end

-- Max-min fair shares of max over demands (id -> n), in whole slots: the slots left by rounding go
-- to the largest remainders, ties in id order, so every gateway computes the same split.
local function shares(max, demands, ids)
  local order = {}
  for _, id in ipairs(ids) do order[#order + 1] = id end
  table.sort(order, function(a, b) if demands[a] ~= demands[b] then return demands[a] < demands[b] end return a < b end)
  local alloc, remaining = {}, max
  for i, id in ipairs(order) do
    local a = math.min(demands[id], remaining / (#order - i + 1))
    alloc[id] = a
    remaining = remaining - a
  end
  local extra = remaining / #order
  local whole, fractions, given = {}, {}, 0
  for _, id in ipairs(ids) do
    local a = alloc[id] + extra
    whole[id] = math.floor(a + 1e-9)
    fractions[#fractions + 1] = { id = id, f = a - whole[id] }
    given = given + whole[id]
  end
  table.sort(fractions, function(a, b) if a.f ~= b.f then return a.f > b.f end return a.id < b.id end)
  for i = 1, math.min(#fractions, max - given) do whole[fractions[i].id] = whole[fractions[i].id] + 1 end
  return whole
end

local out = { gateways = #live, rank = rank, backends = {} }
for _, b in ipairs(mine) do
  local key = P .. 'fleet:' .. b.name
  local flat = redis.call('HGETALL', key)
  local demands, held, ids, elsewhere = {}, 0, {}, {}
  for i = 1, #flat, 2 do
    local id = flat[i]
    if not isLive[id] then
      redis.call('HDEL', key, id)
    elseif id ~= me then
      local e = cjson.decode(flat[i + 1])
      demands[id] = e.demand
      held = held + e.held
      ids[#ids + 1] = id
      for url, n in pairs(e.inFlight) do elsewhere[url] = (elsewhere[url] or 0) + n end
    end
  end
  demands[me] = b.demand
  ids[#ids + 1] = me
  local target = shares(b.max, demands, ids)[me]
  local grant = math.min(math.max(target, b.inUse), math.max(b.max - held, b.inUse))
  if grant < 0 then grant = 0 end
  local keep = math.max(grant, b.limit, b.inUse)
  redis.call('HSET', key, me, cjson.encode({ held = keep, demand = b.demand, inFlight = b.inFlight }))
  redis.call('PEXPIRE', key, lease * 4)
  out.backends[b.name] = { grant = grant, target = target, held = keep, elsewhere = elsewhere }
end
return cjson.encode(out)
`;

/** A gateway leaves: its lease and what it held go at once. ARGV: prefix, gateway id, backend names (JSON list). */
export const LEAVE = `
redis.call('ZREM', ARGV[1] .. 'fleet:gateways', ARGV[2])
for _, name in ipairs(cjson.decode(ARGV[3])) do redis.call('HDEL', ARGV[1] .. 'fleet:' .. name, ARGV[2]) end
return 1
`;
