// Feeding a large buffer to a Parser on two threads: a second thread splits
// and classifies lines (LineReader) while the caller's thread builds the tree
// (Parser::Consume). The result is the same as Parser::Feed(data).
#pragma once

#include <string_view>

#include "ktap/parser.h"

namespace vigil::ktap {

// `data` must stay valid until this returns; `parser` must not be fed by
// anyone else meanwhile. Small inputs are fed on the calling thread.
void FeedParallel(Parser& parser, std::string_view data);

}  // namespace vigil::ktap
