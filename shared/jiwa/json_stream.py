"""The finished objects of one array in a JSON object that is still arriving.

Claude streams a structured answer as text deltas cut anywhere (inside a string, an
escape, a key). The calendar wave wants each post as soon as its closing brace has
arrived, not when the whole calendar has: `ArrayItems("posts").feed(delta)` returns the
objects of the top-level `posts` array that this delta completed, each parsed on its own.

A scanner, not a partial parser: it tracks strings, escapes and nesting depth over the
new characters only, so a long answer costs one pass in all. Only object (or array)
elements are returned; our arrays hold nothing else. It trusts the JSON to be well formed
(structured outputs constrain it); the caller still validates the whole answer at the
end, and that answer is the one that counts.
"""

from __future__ import annotations

import json
from typing import Any


class ArrayItems:
    def __init__(self, key: str) -> None:
        self._key = key
        self._item: list[str] = []  # the current element's characters
        self._depth = 0  # containers open: 1 inside the top-level object
        self._in_string = self._escaped = False
        self._string: list[str] = []  # the top-level string being read (maybe a key)
        self._last_string = ""  # the last complete top-level string
        self._value_of = ""  # the top-level key whose value is being read
        self._in_array = False  # inside the wanted array (depth 2)
        self._in_item = False  # inside one of its elements
        self.count = 0  # elements returned so far

    def feed(self, delta: str) -> list[Any]:
        done: list[Any] = []
        for char in delta:
            if self._in_item:
                self._item.append(char)
            if self._in_string:
                self._string_char(char)
            elif char == '"':
                self._in_string, self._string = True, []
            elif char in "{[":
                self._depth += 1
                if char == "[" and self._depth == 2 and self._value_of == self._key:
                    self._in_array = True
                elif self._in_array and self._depth == 3 and not self._in_item:
                    self._in_item, self._item = True, [char]
            elif char in "}]":
                self._depth -= 1
                if self._in_item and self._depth == 2:
                    self._in_item = False
                    self.count += 1
                    done.append(json.loads("".join(self._item)))
                elif self._in_array and self._depth == 1:
                    self._in_array = False
            elif char == ":" and self._depth == 1:
                self._value_of = self._last_string
        return done

    def _string_char(self, char: str) -> None:
        if self._escaped:  # the character after a backslash never ends the string
            self._escaped = False
        elif char == "\\":
            self._escaped = True
        elif char == '"':
            self._in_string = False
            if self._depth == 1:  # only top-level strings can name the wanted key
                self._last_string = json.loads('"' + "".join(self._string) + '"')
            return
        if self._depth == 1:
            self._string.append(char)
