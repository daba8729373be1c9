// Feeding a Parser on two threads: a second thread splits and classifies
// lines (LineReader) while the caller's thread builds the tree
// (Parser::Consume). The result is the same as feeding the bytes to
// Parser::Feed() in order.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "ktap/parser.h"

namespace vigil::ktap {

// `data` must stay valid until this returns; `parser` must not be fed by
// anyone else meanwhile. Small inputs are fed on the calling thread.
void FeedParallel(Parser& parser, std::string_view data);

// Feeds `data` a chunk at a time and calls `release` (on the calling thread)
// with each chunk once nothing refers to it any more, e.g. to drop the pages
// of a memory-mapped file so that memory stays bounded. Chunks are
// `kChunkAlign`-aligned relative to `data`.
inline constexpr size_t kChunkAlign = 1 << 20;
void FeedParallel(Parser& parser, std::string_view data,
                  const std::function<void(std::string_view chunk)>& release);

// Reads the input with `read`, one call at a time, in order, on whichever
// thread is less busy: the calling thread builds the tree and reads ahead
// while it would wait; the second thread splits and classifies lines and
// reads the chunks nobody read yet. `read` fills up to `len` bytes of `buf`
// and returns how many it wrote, 0 at the end of the input, or a negative
// number on error (which stops the feeding); it must not throw. Memory stays
// bounded whatever the input's size. Returns false when `read` failed.
using ReadFn = std::function<long(char* buf, size_t len)>;
bool FeedParallel(Parser& parser, const ReadFn& read);

}  // namespace vigil::ktap
