-- wrk script: count which model version answered each request (the model
-- server's X-Model-Version header) and print, after wrk's own summary, one
-- line "versions: resnet101=N resnet50=N" (sorted; "none" for answers
-- without the header).
--
--   wrk -s tests/tools/wrk_versions.lua -H 'user-group: canary' ... URL

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

counts = {}

function response(status, headers, body)
	local v = headers["X-Model-Version"] or headers["x-model-version"] or "none"
	counts[v] = (counts[v] or 0) + 1
end

function done(summary, latency, requests)
	local total, names = {}, {}
	for _, t in ipairs(threads) do
		for v, n in pairs(t:get("counts") or {}) do
			if total[v] == nil then
				table.insert(names, v)
				total[v] = 0
			end
			total[v] = total[v] + n
		end
	end
	table.sort(names)
	local parts = {}
	for _, v in ipairs(names) do
		table.insert(parts, v .. "=" .. total[v])
	end
	io.write("versions: " .. table.concat(parts, " ") .. "\n")
end
