#include "console/decode.h"

#include <elf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/kernel_modules.h"
#include "sys/process.h"

namespace vigil::console {
namespace {

namespace fs = std::filesystem;

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = std::move(ss).str();
  return true;
}

}  // namespace

struct Decoder::Object {
  struct Symbol {
    uint64_t value = 0;
    uint64_t size = 0;
    std::string section;  // relocatable objects (.ko): the symbol's section
  };
  std::string path;         // what addr2line reads (a decompressed copy, maybe)
  std::string source_path;  // where it was found
  bool relocatable = false;
  bool has_debug_line = false;
  std::multimap<std::string, Symbol> symbols;
};

Decoder::Decoder(std::string vmlinux, std::string modules_dir, std::string base_path)
    : Decoder(std::move(vmlinux), std::move(modules_dir), std::move(base_path), Limits{}) {}

Decoder::Decoder(std::string vmlinux, std::string modules_dir, std::string base_path, Limits limits)
    : vmlinux_(std::move(vmlinux)),
      modules_dir_(std::move(modules_dir)),
      base_path_(std::move(base_path)),
      limits_(limits) {}

void Decoder::Warn(std::string warning) {
  if (warnings_.size() < limits_.max_warnings) {
    warnings_.push_back(std::move(warning));
  } else {
    ++more_warnings_;
  }
}

std::vector<std::string> Decoder::warnings() const {
  std::vector<std::string> all = warnings_;
  if (more_warnings_ > 0) all.push_back(fmt::format("{} more warnings not shown", more_warnings_));
  return all;
}

Decoder::~Decoder() {
  for (const auto& t : temp_files_) unlink(t.c_str());
}

std::string Decoder::FindModule(const std::string& module) {
  if (modules_dir_.empty()) return "";
  if (!indexed_) {
    indexed_ = true;
    module_paths_ = IndexModules(modules_dir_);
  }
  auto it = module_paths_.find(KernelModuleName(module));
  return it == module_paths_.end() ? "" : it->second;
}

Decoder::Object* Decoder::Load(const std::string& module) {
  auto found = objects_.find(module);
  if (found != objects_.end()) return found->second.get();
  std::string path = module.empty() ? vmlinux_ : FindModule(module);
  std::string found_at = path;
  if (path.empty()) {
    // Looked up again each time once too many names were missing.
    if (missing_ >= limits_.max_missing) return nullptr;
    ++missing_;
    objects_[module] = nullptr;
    if (!module.empty()) Warn(fmt::format("cannot find the .ko of module {}", module));
    return nullptr;
  }
  auto& slot = objects_[module];
  for (auto [ext, tool] : {std::pair{".xz", "xz"}, std::pair{".zst", "zstd"}, std::pair{".gz", "gzip"}}) {
    if (path.size() > strlen(ext) && path.compare(path.size() - strlen(ext), strlen(ext), ext) == 0) {
      auto printed = sys::CommandOutput({tool, "-dc", path});
      bool ok = printed.ok();
      std::string data = ok ? std::move(printed.value()) : std::string();
      char tmpl[] = "/tmp/vigil-ko.XXXXXX";
      int fd = mkstemp(tmpl);
      if (!ok || fd < 0 || write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
        if (fd >= 0) close(fd);
        Warn(fmt::format("cannot decompress {}", path));
        return nullptr;
      }
      close(fd);
      temp_files_.push_back(tmpl);
      path = tmpl;
    }
  }
  std::string elf;
  if (!ReadFile(path, &elf) || elf.size() < sizeof(Elf64_Ehdr) || memcmp(elf.data(), ELFMAG, SELFMAG) != 0 ||
      elf[EI_CLASS] != ELFCLASS64) {
    Warn(fmt::format("{} is not a 64-bit ELF object", path));
    return nullptr;
  }
  auto obj = std::make_unique<Object>();
  obj->path = path;
  obj->source_path = found_at;
  Elf64_Ehdr eh;
  memcpy(&eh, elf.data(), sizeof eh);
  obj->relocatable = eh.e_type == ET_REL;
  auto section = [&](size_t i, Elf64_Shdr* sh) {
    uint64_t off = eh.e_shoff + i * sizeof(Elf64_Shdr);
    if (i >= eh.e_shnum || off + sizeof(Elf64_Shdr) > elf.size()) return false;
    memcpy(sh, elf.data() + off, sizeof *sh);
    return true;
  };
  auto cstr = [&](const Elf64_Shdr& tab, uint32_t at) -> std::string {
    if (tab.sh_offset + at >= elf.size()) return "";
    const char* p = elf.data() + tab.sh_offset + at;
    size_t max = std::min<uint64_t>(elf.size() - (tab.sh_offset + at), tab.sh_size > at ? tab.sh_size - at : 0);
    return std::string(p, strnlen(p, max));
  };
  Elf64_Shdr shstr{};
  section(eh.e_shstrndx, &shstr);
  std::vector<std::string> names(eh.e_shnum);
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!section(i, &sh)) break;
    names[i] = cstr(shstr, sh.sh_name);
    if (names[i] == ".debug_line") obj->has_debug_line = true;
  }
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh, strtab;
    if (!section(i, &sh) || sh.sh_type != SHT_SYMTAB || !section(sh.sh_link, &strtab)) continue;
    if (sh.sh_offset > elf.size() || sh.sh_size > elf.size() - sh.sh_offset) continue;
    size_t n = sh.sh_size / sizeof(Elf64_Sym);
    for (size_t k = 0; k < n; ++k) {
      Elf64_Sym s;
      memcpy(&s, elf.data() + sh.sh_offset + k * sizeof s, sizeof s);
      if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_shndx >= names.size()) continue;
      Object::Symbol sym{s.st_value, s.st_size, obj->relocatable ? names[s.st_shndx] : ""};
      obj->symbols.emplace(cstr(strtab, s.st_name), sym);
    }
  }
  if (!obj->has_debug_line) Warn(fmt::format("no debug info in {}", path));
  slot = std::move(obj);
  return slot.get();
}

std::vector<SourceLocation> Decoder::Resolve(const Frame& frame, bool return_address) {
  std::string key = fmt::format("{}|{}|{:x}|{:x}|{}", frame.module, frame.function, frame.offset, frame.size,
                                return_address);
  auto cached = cache_.find(key);
  if (cached != cache_.end()) return cached->second;
  std::vector<SourceLocation> out;
  if (cache_.size() >= limits_.max_frames) {
    if (!frames_capped_) {
      frames_capped_ = true;
      Warn(fmt::format("more than {} distinct frames: the others are left as they are", limits_.max_frames));
    }
    return out;
  }
  Object* obj = Load(frame.module);
  if (obj && obj->has_debug_line) {
    auto range = obj->symbols.equal_range(frame.function);
    const Object::Symbol* sym = nullptr;
    for (auto it = range.first; it != range.second; ++it) {
      if (!sym || it->second.size == frame.size) sym = &it->second;
    }
    if (sym) {
      // A return address points after the call: look up the call itself.
      uint64_t addr = sym->value + frame.offset - (return_address && frame.offset > 0 ? 1 : 0);
      std::vector<std::string> argv = {"addr2line", "-f", "-i", "-e", obj->path};
      if (obj->relocatable && !sym->section.empty()) {
        argv.push_back("-j");
        argv.push_back(sym->section);
      }
      argv.push_back(fmt::format("0x{:x}", addr));
      auto printed = sys::CommandOutput(argv);
      bool ok = printed.ok();
      std::string text = ok ? std::move(printed.value()) : std::string();
      std::vector<std::string> lines;
      std::istringstream in(text);
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      for (size_t i = 0; ok && i + 1 < lines.size(); i += 2) {
        SourceLocation loc{lines[i], lines[i + 1], false};
        size_t disc = loc.file_line.find(" (discriminator");
        if (disc != std::string::npos) loc.file_line.resize(disc);
        // Paths relative to the build: --base-path, else the object's own
        // directory (where out-of-tree modules are built).
        std::string own_dir = fs::path(obj->source_path).parent_path().string();
        for (const std::string& prefix : {base_path_, own_dir}) {
          if (prefix.empty() || prefix == "/" || loc.file_line.rfind(prefix + "/", 0) != 0) continue;
          loc.file_line.erase(0, prefix.size() + 1);
          break;
        }
        out.push_back(std::move(loc));
      }
      if (!out.empty() && out.back().file_line.rfind("??", 0) == 0) out.clear();
      for (size_t i = 0; i + 1 < out.size(); ++i) out[i].inlined = true;
    }
  }
  cache_[key] = out;
  return out;
}

std::string Decoder::DecodeLine(std::string_view line) {
  if (line.find("+0x") == std::string_view::npos) return std::string(line);
  // The frame sits after the console prefix and indentation, near the
  // start: one further in than kMaxFrameStart bytes is not looked for (a
  // megabyte line would cost a parse at every position).
  constexpr size_t kMaxFrameStart = 4096;
  size_t start = 0;
  for (size_t pos = 0; pos < line.size() && pos < kMaxFrameStart; ++pos) {
    if (pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == ']' || line[pos - 1] == ':') {
      Frame f;
      std::string_view rest = line.substr(pos);
      if (!ParseFrame(rest, &f) || rest.substr(0, f.raw.size()) != f.raw) continue;
      start = pos;
      bool rip = line.find("RIP: ") != std::string_view::npos || line.find("pc : ") != std::string_view::npos;
      std::string_view before = line.substr(0, pos);
      bool unreliable = before.size() >= 2 && before.substr(before.size() - 2) == "? ";
      auto locs = Resolve(f, !unreliable && !rip);
      if (locs.empty()) return std::string(line);
      std::string head(line.substr(0, start));
      std::string indent = head;
      for (char& c : indent)
        if (c != ' ' && c != '\t') c = ' ';
      std::string out;
      std::string mod = f.module.empty() ? "" : " [" + f.module + "]";
      for (size_t i = 0; i + 1 < locs.size(); ++i)
        out += fmt::format("{}{} ({}) [inline]\n", indent, locs[i].function, locs[i].file_line);
      std::string_view tail = line.substr(start + f.raw.size());
      out += fmt::format("{}{} ({}){}{}", head, f.function, locs.back().file_line, mod, tail);
      return out;
    }
  }
  return std::string(line);
}

}  // namespace vigil::console
