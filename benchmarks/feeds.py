"""Feeds: one prepared request per wrk request, never reused (POST endpoints).

`setup_data` writes the requests (`token<TAB>body` lines, or `token<TAB>body<TAB>path`
when each request has its own path, such as a refill of one prescription);
`Feed.script` writes the wrk Lua script that sends them, and `Feed.consumed` reads from
wrk's output how many each thread took, so the next wrk run (warm-up, round after round)
starts past them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.endpoints import Endpoint


class BenchError(Exception):
    pass


# Each wrk thread has its own Lua state: thread `tid` takes the entries i with
# i % NTHREADS == tid of the file, one per request; done() (main state) prints how many
# each thread took, so the next wrk run starts past them. When a thread runs out it sends
# an unauthenticated request: a 401 fails the run, and done() says why.
_FEED_LUA = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  entries, used, exhausted, first_error = {}, 0, 0, ""
  local i = 0
  for line in io.lines(FEED) do
    if i % NTHREADS == tid then
      local tab = line:find("\t", 1, true)
      local rest = line:sub(tab + 1)
      local tab2 = rest:find("\t", 1, true)
      if tab2 then  -- token, body and this request's own path
        entries[#entries + 1] = {line:sub(1, tab - 1), rest:sub(1, tab2 - 1), rest:sub(tab2 + 1)}
      else
        entries[#entries + 1] = {line:sub(1, tab - 1), rest, PATH}
      end
    end
    i = i + 1
  end
end
local function headers(token)
  local h = {}
  for name, value in pairs(HEADERS) do h[name] = value end
  if token then h["Authorization"] = "Bearer " .. token end
  return h
end
function request()
  used = used + 1
  local entry = entries[used]
  if entry == nil then
    exhausted = 1
    return wrk.format(METHOD, PATH, headers(nil), "{}")
  end
  return wrk.format(METHOD, entry[3], headers(entry[1]), entry[2])
end
function response(status, headers, body)
  if status >= 300 and first_error == "" then
    first_error = status .. " " .. string.sub(body or "", 1, 400)
  end
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("feed: thread %d used %d exhausted %d\n",
      thread:get("tid"), thread:get("used"), thread:get("exhausted")))
    local err = thread:get("first_error")
    if err ~= "" then io.write("feed: first error " .. err .. "\n") end
  end
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a valid Lua string literal


class Feed:
    """Prepared requests (`token<TAB>body` lines) for one endpoint, handed to wrk run
    after run from where the previous one stopped."""

    def __init__(self, endpoint: Endpoint, path: Path, headers: list[tuple[str, str]]) -> None:
        self.endpoint, self.path, self.headers = endpoint, path, headers
        self.lines = path.read_text().splitlines()
        self.cursor = 0

    def take_one(self) -> tuple[str, str, str]:
        """The next request's token, body and path."""
        if self.cursor >= len(self.lines):
            raise BenchError(f"{self.endpoint.name}: no prepared request left")
        token, _, rest = self.lines[self.cursor].partition("\t")
        body, _, path = rest.partition("\t")
        self.cursor += 1
        return token, body, path or self.endpoint.path

    def script(self, threads: int) -> Path:
        rest = self.path.with_suffix(".rest")
        rest.write_text("".join(line + "\n" for line in self.lines[self.cursor :]))
        header_table = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}"
            for name, value in [*self.headers, ("Content-Type", "application/json")]
        )
        script = self.path.with_suffix(".lua")
        script.write_text(
            f"FEED = {_lua_string(str(rest))}\nNTHREADS = {threads}\n"
            f"METHOD = {_lua_string(self.endpoint.method)}\n"
            f"PATH = {_lua_string(self.endpoint.path)}\nHEADERS = {{{header_table}}}\n" + _FEED_LUA
        )
        return script

    def consumed(self, output: str, threads: int) -> None:
        used = [int(n) for n in re.findall(r"^feed: thread \d+ used (\d+)", output, re.M)]
        if len(used) != threads:
            raise BenchError(f"{self.endpoint.name}: wrk did not report its feed:\n{output}")
        self.cursor += threads * max(used)
        if re.search(r"^feed: thread \d+ used \d+ exhausted 1", output, re.M):
            raise BenchError(
                f"{self.endpoint.name}: ran out of prepared requests ({len(self.lines)}); "
                f"raise FEED_REQUESTS_PER_SECOND in benchmarks/run.py\n{output}"
            )

    @property
    def remaining(self) -> int:
        return len(self.lines) - self.cursor
