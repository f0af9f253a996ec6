-- (LuaJIT 5.1 inside wrk: no // operator.)
-- POST a JSON body per request with a fresh, valid NIK and phone number in it, so a real
-- registration endpoint never sees a duplicate (it would answer 409 and measure nothing).
-- Environment: BENCH_BODY_FILE (template with __NIK__ and __PHONE__), BENCH_AUTH (header value
-- or empty), BENCH_SALT (integer: keeps repeated runs against one database apart).
local counter, thread_id = 0, 0
local template, auth, salt
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "r"))
  template = f:read("*a")
  f:close()
  auth = os.getenv("BENCH_AUTH") or ""
  salt = tonumber(os.getenv("BENCH_SALT") or "0")
  thread_id = id
end

local function identity(n)
  -- NIK: province 33 (Central Java), regency 72 (Surakarta), district 01-99, birth DDMMYY with
  -- year 71-99, serial 0001-9999; n maps to a unique combination for up to ~7.8e8 requests.
  local serial = n % 9999 + 1; n = math.floor(n / 9999)
  local district = n % 99 + 1; n = math.floor(n / 99)
  local day = n % 28 + 1; n = math.floor(n / 28)
  local month = n % 12 + 1; n = math.floor(n / 12)
  local year = 71 + n % 29
  local nik = string.format("3372%02d%02d%02d%02d%04d", district, day, month, year, serial)
  local phone = string.format("+62812%08d", (serial * 99 + district) % 100000000)
  return nik, phone
end

function request()
  counter = counter + 1
  local n = salt * 1000000 + thread_id * 100000 + counter
  local nik, phone = identity(n)
  local body = template:gsub("__NIK__", nik):gsub("__PHONE__", phone)
  local headers = { ["Content-Type"] = "application/json" }
  if auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors_status=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
