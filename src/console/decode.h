// Stack frame decoding, as the kernel's scripts/decode_stacktrace.sh does:
// "func+0x12/0x40 [mod]" becomes "func (file:line) [mod]", with the chain of
// functions inlined at that address. The symbol's address comes from the
// ELF symbol table of vmlinux or of the module's .ko (found under a modules
// directory, "_" and "-" alike, .ko.xz and .ko.zst decompressed), the line
// from binutils' addr2line on an object with debug info.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "console/detector.h"

namespace vigil::console {

struct SourceLocation {
  std::string function;
  std::string file_line;  // "net/ipv4/tcp.c:123", "??:0" when unknown
  bool inlined = false;   // inlined into the next entry
};

class Decoder {
 public:
  // A console is a stranger's: what one decoder remembers and runs is
  // bounded. Past `max_frames` distinct frames, new ones are left as they
  // are (each costs an addr2line); past `max_missing` module names not
  // found, the misses are no longer remembered; warnings past
  // `max_warnings` are counted.
  struct Limits {
    size_t max_frames = 20000;
    size_t max_missing = 1000;
    size_t max_warnings = 50;
  };
  // `vmlinux` may be empty (module frames only); `modules_dir` may be empty.
  Decoder(std::string vmlinux, std::string modules_dir, std::string base_path = "");
  Decoder(std::string vmlinux, std::string modules_dir, std::string base_path, Limits limits);
  ~Decoder();

  // Innermost first; the last entry is the function the frame names.
  // Empty when the object, the symbol or its debug info is missing.
  std::vector<SourceLocation> Resolve(const Frame& frame, bool return_address);

  // Rewrites every frame of one console line ("  ? f+0x1/0x2 [m]" ->
  // "  ? f (file.c:12) [m]"), inlined functions first on lines of their own.
  // Lines without a frame come back unchanged.
  std::string DecodeLine(std::string_view line);

  // Why an object could not be used (missing .ko, no debug info), once
  // each; frames left undecoded past the limit; how many more were cut.
  std::vector<std::string> warnings() const;

 private:
  struct Object;
  Object* Load(const std::string& module);
  std::string FindModule(const std::string& module);
  void Warn(std::string warning);

  std::string vmlinux_;
  std::string modules_dir_;
  std::string base_path_;
  Limits limits_;
  bool indexed_ = false;
  bool frames_capped_ = false;
  size_t missing_ = 0;        // module names not found, remembered in objects_
  size_t more_warnings_ = 0;  // past limits_.max_warnings
  std::map<std::string, std::string> module_paths_;  // normalised name -> path
  std::map<std::string, std::unique_ptr<Object>> objects_;
  std::map<std::string, std::vector<SourceLocation>> cache_;
  std::vector<std::string> warnings_;
  std::vector<std::string> temp_files_;
};

}  // namespace vigil::console
