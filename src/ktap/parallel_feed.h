// Feeding a Parser from a file or pipe on two threads: a second thread
// reads the input ahead into a small ring of buffers while the caller's thread
// splits, classifies and builds the tree (Parser::Feed) from the buffers
// already read. The result is the same as feeding the bytes to Parser::Feed()
// in order.
//
// Why this split: the system calls and the copy out of the page cache are a
// third of the work on a big log and need no parser state, so they overlap
// with parsing; the parse itself stays on one core, where the classified
// lines are still in cache when the tree is built (handing classified lines
// to another core measured slower than one thread doing both).
#pragma once

#include <cstddef>
#include <functional>

#include "ktap/parser.h"

namespace vigil::ktap {

// `read` fills up to `len` bytes of `buf` and returns how many it wrote, 0 at
// the end of the input, or a negative number on error (which stops the
// feeding); it must not throw. It is called on the second thread, one call at
// a time, in input order. Whatever one call returns is parsed as soon as the
// parser is free, so a slow pipe (a VM still printing) is parsed as it comes.
// Memory stays bounded whatever the input's size: at most kReadAheadChunks
// buffers of kReadChunkBytes. Returns false when `read` failed; what was read
// before the failure is parsed.
using ReadFn = std::function<long(char* buf, size_t len)>;
inline constexpr size_t kReadChunkBytes = 128 << 10;
inline constexpr size_t kReadAheadChunks = 4;
bool FeedParallel(Parser& parser, const ReadFn& read);

}  // namespace vigil::ktap
