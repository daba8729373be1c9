#include "kbuild/diagnostics.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vigil::kbuild {
namespace {

// A temporary directory for C files and what the compilers say about them.
class Sources {
 public:
  Sources() {
    std::string tmpl = ::testing::TempDir() + "vigil-diag-XXXXXX";
    dir_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~Sources() {
    if (!dir_.empty()) (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  bool ok() const { return !dir_.empty(); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ + "/" + name) << text; }
  bool Mkdir(const std::string& name) { return mkdir((dir_ + "/" + name).c_str(), 0755) == 0; }

  // Writes `name`, runs `command` (with the file's name appended) in the
  // directory under the given locale and returns its stderr and stdout.
  std::string Run(const std::string& name, const std::string& source, const std::string& command,
                  const std::string& locale = "C.UTF-8") {
    std::ofstream(dir_ + "/" + name) << source;
    std::string out = dir_ + "/out.txt";
    std::string line = "cd '" + dir_ + "' && LC_ALL=" + locale + " " + command + " " + name + " >'" + out +
                       "' 2>&1";
    (void)std::system(line.c_str());
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string dir_;
};

bool HaveProgram(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

const Diagnostic* Find(const std::vector<Diagnostic>& all, std::string_view needle) {
  for (const auto& d : all)
    if (d.message.find(needle) != std::string::npos) return &d;
  return nullptr;
}

// Line 5: unused variable; line 6: implicit declaration; line 9/10: a
// redefinition with its note; line 15: a syntax error.
constexpr const char* kBroken =
    "#include <stdio.h>\n"            // 1
    "\n"                              // 2
    "int g(int x)\n"                  // 3
    "{\n"                             // 4
    "\tint unused;\n"                 // 5
    "\treturn foo(x);\n"              // 6
    "}\n"                             // 7
    "\n"                              // 8
    "int v = 1;\n"                    // 9
    "int v = 2;\n"                    // 10
    "\n"                              // 11
    "int h(int y)\n"                  // 12
    "{\n"                             // 13
    "\treturn y +\n"                  // 14
    "}\n";                            // 15

TEST(Diagnostics, GccWarningsCarryFileLineColumnSeverityFlagAndFunction) {
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("broken.c", kBroken, "gcc -Wall -Wextra -c -o broken.o");
  auto all = ParseDiagnostics(out);

  const Diagnostic* unused = Find(all, "unused variable");
  ASSERT_NE(unused, nullptr) << out;
  EXPECT_EQ(unused->tool, Tool::kCompiler);
  EXPECT_EQ(unused->file, "broken.c");
  EXPECT_EQ(unused->line, 5u);
  EXPECT_EQ(unused->column, 13u);  // gcc takes a tab to the next multiple of 8
  EXPECT_EQ(unused->severity, Severity::kWarning);
  EXPECT_EQ(unused->flag, "-Wunused-variable");
  EXPECT_EQ(unused->function, "g");

  const Diagnostic* implicit = Find(all, "implicit declaration of function");
  ASSERT_NE(implicit, nullptr) << out;
  EXPECT_EQ(implicit->line, 6u);
  EXPECT_EQ(implicit->flag, "-Wimplicit-function-declaration");
  EXPECT_EQ(implicit->function, "g");

  const Diagnostic* redefinition = Find(all, "redefinition of");
  ASSERT_NE(redefinition, nullptr) << out;
  EXPECT_EQ(redefinition->severity, Severity::kError);
  EXPECT_EQ(redefinition->line, 10u);
  EXPECT_EQ(redefinition->flag, "");
  EXPECT_EQ(redefinition->function, "");  // "At top level"
  ASSERT_EQ(redefinition->notes.size(), 1u) << out;
  EXPECT_EQ(redefinition->notes[0].file, "broken.c");
  EXPECT_EQ(redefinition->notes[0].line, 9u);
  EXPECT_NE(redefinition->notes[0].message.find("previous definition"), std::string::npos);

  const Diagnostic* syntax = Find(all, "expected expression");
  ASSERT_NE(syntax, nullptr) << out;
  EXPECT_EQ(syntax->severity, Severity::kError);
  EXPECT_EQ(syntax->line, 15u);
  EXPECT_EQ(syntax->column, 1u);
  EXPECT_EQ(syntax->function, "h");

  // Notes never stand alone when they follow a diagnostic.
  for (const auto& d : all) EXPECT_NE(d.severity, Severity::kNote) << FormatDiagnostic(d);
}

// Warnings in a header: "In file included from", gcc's "h.h: In function"
// context and its file-less "In function 'hf',\n    inlined from 'top'" one;
// the note that follows in the including file stays with its warning.
TEST(Diagnostics, GccHeaderAndInlinedContexts) {
  Sources src;
  ASSERT_TRUE(src.ok());
  src.Write("h.h", "static inline int hf(int *p)\n{\n\tint unused;\n\treturn p[5];\n}\n");
  std::string out = src.Run("i.c", "#include \"h.h\"\nint arr[4];\nint top(void)\n{\n\treturn hf(arr);\n}\n",
                            "gcc -O2 -Wall -Wextra -c -o i.o", "C");
  ASSERT_NE(out.find("inlined from"), std::string::npos) << out;
  auto all = ParseDiagnostics(out);
  ASSERT_EQ(all.size(), 2u) << out;
  EXPECT_EQ(all[0].file, "h.h");
  EXPECT_EQ(all[0].line, 3u);
  EXPECT_EQ(all[0].function, "hf");
  EXPECT_EQ(all[1].file, "h.h");
  EXPECT_EQ(all[1].line, 4u);
  EXPECT_EQ(all[1].flag, "-Warray-bounds");
  EXPECT_EQ(all[1].function, "hf");
  EXPECT_EQ(all[0].inlined_from, "");
  EXPECT_EQ(all[1].inlined_from, "top at i.c:5:9");
  EXPECT_NE(FormatDiagnostic(all[1]).find(" (inlined from top at i.c:5:9)"), std::string::npos);
  ASSERT_EQ(all[1].notes.size(), 1u);
  EXPECT_EQ(all[1].notes[0].file, "i.c");
  EXPECT_EQ(all[1].notes[0].line, 2u);
}

// A warning in a header's inline function (the kernel's fortify checks, in
// every driver's memcpy) is told apart by the caller it was inlined from: a
// new driver's is new against a base build that compiled only an old
// driver's; the old driver's, moved down by two lines, is not.
TEST(Diagnostics, NewWarningsTellInlinedCallersApart) {
  Sources src;
  ASSERT_TRUE(src.ok());
  src.Write("h.h", "static inline int hf(int *p)\n{\n\treturn p[5];\n}\n");
  const std::string old_driver = "#include \"h.h\"\nint arr[4];\nint old_probe(void)\n{\n\treturn hf(arr);\n}\n";
  const std::string cmd = "gcc -O2 -Wall -Wextra -c -o x.o";
  auto base = ParseDiagnostics(src.Run("old.c", old_driver, cmd, "C"));
  ASSERT_EQ(base.size(), 1u);
  EXPECT_EQ(base[0].inlined_from, "old_probe at old.c:5:9");
  auto fresh = ParseDiagnostics(src.Run("new.c", "#include \"h.h\"\nint buf[2];\nint new_probe(void)\n{\n\treturn hf(buf);\n}\n", cmd, "C"));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].file, base[0].file);
  EXPECT_EQ(fresh[0].function, base[0].function);
  EXPECT_EQ(NewWarnings(base, fresh).size(), 1u);
  auto moved = ParseDiagnostics(src.Run("old.c", "/* one */\n/* two */\n" + old_driver, cmd, "C"));
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].inlined_from, "old_probe at old.c:7:9");
  EXPECT_TRUE(NewWarnings(base, moved).empty());
}

// gcc lists the callers innermost first: the last is the driver's; its
// clone suffix (.constprop.0, .isra.0) is no part of the match.
TEST(Diagnostics, TheOutermostCallerWithoutItsCloneSuffixIsKept) {
  auto in = [](const std::string& caller) {
    return ParseDiagnostics(
        "In function 'fortify_memcpy_chk',\n"
        "    inlined from 'memcpy_toio' at ./include/asm-generic/io.h:1204:2,\n"
        "    inlined from '" + caller + "' at drivers/net/wireless/ray_cs.c:984:3:\n"
        "./include/linux/fortify-string.h:583:25: warning: call to '__write_overflow_field' declared with "
        "attribute warning: detected write beyond size of field [-Wattribute-warning]\n");
  };
  auto isra = in("ray_build_header.isra.0"), constprop = in("ray_build_header.constprop");
  ASSERT_EQ(isra.size(), 1u);
  EXPECT_EQ(isra[0].inlined_from, "ray_build_header.isra.0 at drivers/net/wireless/ray_cs.c:984:3");
  EXPECT_TRUE(NewWarnings(isra, constprop).empty());
  EXPECT_EQ(NewWarnings(isra, in("other_probe")).size(), 1u);
}

TEST(Diagnostics, GccColumnOfTheUnusedVariable) {
  // The column is gcc's (a tab counts to the next multiple of 8, plus one).
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("u.c", "int f(void)\n{\n  int unused;\n  return 0;\n}\n", "gcc -Wall -c -o u.o");
  auto all = ParseDiagnostics(out);
  ASSERT_EQ(all.size(), 1u) << out;
  EXPECT_EQ(FormatDiagnostic(all[0]), "u.c:3:7: warning: unused variable \xe2\x80\x98unused\xe2\x80\x99 [-Wunused-variable]");
}

TEST(Diagnostics, ClangWarningsAndErrorsCarryTheirFlags) {
  if (!HaveProgram("clang")) GTEST_SKIP() << "clang is not installed";
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("broken.c", kBroken, "clang -Wall -c -o broken.o");
  auto all = ParseDiagnostics(out);

  const Diagnostic* unused = Find(all, "unused variable");
  ASSERT_NE(unused, nullptr) << out;
  EXPECT_EQ(unused->file, "broken.c");
  EXPECT_EQ(unused->line, 5u);
  EXPECT_EQ(unused->column, 6u);  // clang counts a tab as one column
  EXPECT_EQ(unused->severity, Severity::kWarning);
  EXPECT_EQ(unused->flag, "-Wunused-variable");

  const Diagnostic* implicit = Find(all, "implicit declaration of function");
  ASSERT_NE(implicit, nullptr) << out;
  EXPECT_EQ(implicit->line, 6u);
  EXPECT_EQ(implicit->flag, "-Wimplicit-function-declaration");

  const Diagnostic* redefinition = Find(all, "redefinition of");
  ASSERT_NE(redefinition, nullptr) << out;
  EXPECT_EQ(redefinition->severity, Severity::kError);
  ASSERT_EQ(redefinition->notes.size(), 1u) << out;
  EXPECT_EQ(redefinition->notes[0].line, 9u);

  const Diagnostic* syntax = Find(all, "expected expression");
  ASSERT_NE(syntax, nullptr) << out;
  EXPECT_EQ(syntax->line, 15u);
  EXPECT_EQ(syntax->column, 1u);
}

TEST(Diagnostics, ClangWerrorFlagIsKeptAsPrinted) {
  if (!HaveProgram("clang")) GTEST_SKIP() << "clang is not installed";
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("u.c", "int f(void)\n{\n  int unused;\n  return 0;\n}\n", "clang -Wall -Werror -c -o u.o");
  auto all = ParseDiagnostics(out);
  ASSERT_EQ(all.size(), 1u) << out;
  EXPECT_EQ(all[0].severity, Severity::kError);
  EXPECT_EQ(all[0].flag, "-Werror,-Wunused-variable");
  EXPECT_EQ(all[0].line, 3u);
  EXPECT_EQ(all[0].column, 7u);
}

TEST(Diagnostics, GccFatalErrorOfAMissingHeader) {
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("f.c", "#include \"nope.h\"\n", "gcc -c -o f.o");
  auto all = ParseDiagnostics(out);
  ASSERT_EQ(all.size(), 1u) << out;
  EXPECT_EQ(all[0].severity, Severity::kFatalError);
  EXPECT_EQ(all[0].file, "f.c");
  EXPECT_EQ(all[0].line, 1u);
  EXPECT_EQ(all[0].column, 10u);
  EXPECT_EQ(all[0].message, "nope.h: No such file or directory");
}

TEST(Diagnostics, ColouredGccOutputParsesAsPlain) {
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string plain = src.Run("broken.c", kBroken, "gcc -Wall -Wextra -fdiagnostics-color=never -c -o broken.o");
  std::string colour = src.Run("broken.c", kBroken, "gcc -Wall -Wextra -fdiagnostics-color=always -c -o broken.o");
  ASSERT_NE(colour.find('\x1b'), std::string::npos);
  auto a = ParseDiagnostics(plain);
  auto b = ParseDiagnostics(colour);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(FormatDiagnostic(a[i]), FormatDiagnostic(b[i]));
}

TEST(Diagnostics, LdUndefinedReferenceWithAndWithoutDebugInfo) {
  Sources src;
  ASSERT_TRUE(src.ok());
  const char* program = "int foo(void);\nint main(void)\n{\n\treturn foo();\n}\n";
  for (bool debug : {false, true}) {
    std::string out = src.Run("m.c", program, debug ? "gcc -g -o m" : "gcc -o m");
    auto all = ParseDiagnostics(out);
    const Diagnostic* undefined = Find(all, "undefined reference to");
    ASSERT_NE(undefined, nullptr) << out;
    EXPECT_EQ(undefined->tool, Tool::kLinker);
    EXPECT_EQ(undefined->severity, Severity::kError);
    EXPECT_EQ(undefined->function, "main");
    EXPECT_NE(undefined->file.find("m.c"), std::string::npos) << undefined->file;
    EXPECT_EQ(undefined->line, debug ? 4u : 0u);
    // collect2's summary is the driver's own error.
    const Diagnostic* collect2 = Find(all, "ld returned 1 exit status");
    ASSERT_NE(collect2, nullptr) << out;
    EXPECT_EQ(collect2->file, "collect2");
  }
}

TEST(Diagnostics, LdSecondUndefinedReferenceInAFunctionKeepsTheFunction) {
  Sources src;
  ASSERT_TRUE(src.ok());
  // GNU ld names the function once; its second reference comes prefixed
  // with "ld: " again.
  const char* program = "int foo(void);\nint bar(void);\nint main(void)\n{\n\treturn foo() + bar();\n}\n";
  std::string out = src.Run("m2.c", program, "gcc -o m2");
  auto all = ParseDiagnostics(out);
  const Diagnostic* foo = Find(all, "undefined reference to `foo'");
  const Diagnostic* bar = Find(all, "undefined reference to `bar'");
  ASSERT_NE(foo, nullptr) << out;
  ASSERT_NE(bar, nullptr) << out;
  EXPECT_EQ(foo->function, "main") << out;
  EXPECT_EQ(bar->function, "main") << out;
  EXPECT_NE(bar->file.find("m2.c"), std::string::npos) << bar->file;
}

TEST(Diagnostics, LldUndefinedSymbolWithItsReferences) {
  if (!HaveProgram("clang") || !HaveProgram("ld.lld")) GTEST_SKIP() << "clang or ld.lld is not installed";
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("m.c", "int foo(void);\nint main(void)\n{\n\treturn foo();\n}\n",
                            "clang -fuse-ld=lld -o m");
  auto all = ParseDiagnostics(out);
  ASSERT_EQ(all.size(), 2u) << out;
  EXPECT_EQ(all[0].tool, Tool::kLinker);
  EXPECT_EQ(all[0].severity, Severity::kError);
  EXPECT_EQ(all[0].message, "undefined symbol: foo");
  ASSERT_GE(all[0].notes.size(), 1u) << out;
  EXPECT_EQ(all[0].notes[0].message, "referenced by m.c");
  // The driver's own summary.
  EXPECT_EQ(all[1].file, "clang");
  EXPECT_NE(all[1].message.find("linker command failed"), std::string::npos);
}

TEST(Diagnostics, LinkerLinesOfAKernelLink) {
  auto all = ParseDiagnostics(
      "  LD      .tmp_vmlinux1\n"
      "ld: vmlinux.o: in function `mptcp_init':\n"
      "net/mptcp/protocol.c:4102: undefined reference to `mptcp_foo'\n"
      "ld: vmlinux.o:(.data+0x1a0): undefined reference to `bar_ops'\n"
      "ld: warning: net/x.o: missing .note.GNU-stack section implies executable stack\n"
      "ld.lld: error: undefined symbol: baz\n"
      ">>> referenced by core.c:12 (kernel/core.c:12)\n"
      ">>>               vmlinux.o:(start_kernel)\n"
      "make[2]: *** [scripts/Makefile.vmlinux:37: vmlinux] Error 1\n");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].tool, Tool::kLinker);
  EXPECT_EQ(all[0].file, "net/mptcp/protocol.c");
  EXPECT_EQ(all[0].line, 4102u);
  EXPECT_EQ(all[0].function, "mptcp_init");
  EXPECT_EQ(all[0].message, "undefined reference to `mptcp_foo'");
  EXPECT_EQ(all[1].file, "vmlinux.o");
  EXPECT_EQ(all[1].message, "undefined reference to `bar_ops'");
  EXPECT_EQ(all[1].function, "");  // a data section's reference ends the function's context
  EXPECT_EQ(all[2].severity, Severity::kWarning);
  EXPECT_EQ(all[3].message, "undefined symbol: baz");
  ASSERT_EQ(all[3].notes.size(), 2u);
  EXPECT_EQ(all[3].notes[0].message, "referenced by core.c:12 (kernel/core.c:12)");
  EXPECT_EQ(all[4].tool, Tool::kMake);
}

// A recursive make whose compiler fails under -Werror: gcc's error, then
// each make level's failing target, innermost first.
TEST(Diagnostics, RealMakeFailureUnderWerror) {
  if (!HaveProgram("make")) GTEST_SKIP() << "make is not installed";
  Sources src;
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(src.Mkdir("sub"));
  src.Write("sub/Makefile", "x.o: x.c\n\tgcc -Wall -Werror -c x.c -o x.o\n");
  src.Write("sub/x.c", "int f(void)\n{\n\tint unused;\n\treturn 0;\n}\n");
  std::string out = src.Run("Makefile", "all:\n\t$(MAKE) -C sub\n", "make -f", "C");
  auto all = ParseDiagnostics(out);
  // "cc1: all warnings being treated as errors" names no severity: not one.
  ASSERT_EQ(all.size(), 3u) << out;
  EXPECT_EQ(FormatDiagnostic(all[0]), "x.c:3:13: error: unused variable 'unused' [-Werror=unused-variable]");
  EXPECT_EQ(all[0].function, "f");
  EXPECT_EQ(all[1].tool, Tool::kMake);
  EXPECT_EQ(all[1].file, "Makefile");
  EXPECT_EQ(all[1].line, 2u);
  EXPECT_EQ(all[1].target, "x.o");
  EXPECT_EQ(all[1].message, "Error 1");
  EXPECT_EQ(all[2].target, "all");
  EXPECT_EQ(all[2].message, "Error 2");
}

TEST(Diagnostics, MakeErrorsNameTheFailingTarget) {
  auto all = ParseDiagnostics(
      "make[4]: *** [scripts/Makefile.build:243: net/mptcp/protocol.o] Error 1\n"
      "make[3]: *** Waiting for unfinished jobs....\n"
      "make[3]: *** [scripts/Makefile.build:480: net/mptcp] Error 2\n"
      "make[1]: *** No rule to make target 'foo.o', needed by 'bar'.  Stop.\n"
      "make: *** [Makefile:224: __sub-make] Error 2\n"
      "make[1]: *** [old.o] Segmentation fault\n"
      "make[1]: Leaving directory '/build'\n");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].tool, Tool::kMake);
  EXPECT_EQ(all[0].severity, Severity::kError);
  EXPECT_EQ(all[0].file, "scripts/Makefile.build");
  EXPECT_EQ(all[0].line, 243u);
  EXPECT_EQ(all[0].target, "net/mptcp/protocol.o");
  EXPECT_EQ(all[0].message, "Error 1");
  EXPECT_EQ(all[1].target, "net/mptcp");
  EXPECT_EQ(all[2].target, "");
  EXPECT_EQ(all[2].message, "No rule to make target 'foo.o', needed by 'bar'.  Stop.");
  EXPECT_EQ(all[3].target, "__sub-make");
  EXPECT_EQ(all[4].target, "old.o");
  EXPECT_EQ(all[4].message, "Segmentation fault");
}

TEST(Diagnostics, ModpostAndKconfigLines) {
  auto all = ParseDiagnostics(
      "ERROR: modpost: \"mptcp_foo\" [net/mptcp/mptcp_diag.ko] undefined!\n"
      "WARNING: modpost: vmlinux: section mismatch in reference: foo+0x12 (section: .text) -> bar (section: .init.text)\n"
      "net/Kconfig:12: syntax error\n"
      "arch/x86/Kconfig:5:warning: defaults for choice values not supported\n"
      ".config:1234:warning: symbol value 'm' invalid for MPTCP\n"
      "WARNING: unmet direct dependencies detected for FOO\n"
      "  Depends on [n]: BAR [=n]\n");
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].tool, Tool::kModpost);
  EXPECT_EQ(all[0].severity, Severity::kError);
  EXPECT_EQ(all[0].file, "net/mptcp/mptcp_diag.ko");
  EXPECT_EQ(all[0].message, "\"mptcp_foo\" [net/mptcp/mptcp_diag.ko] undefined!");
  EXPECT_EQ(all[1].severity, Severity::kWarning);
  EXPECT_EQ(all[1].tool, Tool::kModpost);
  // Kconfig's parser names no severity: its errors are errors.
  EXPECT_EQ(all[2].tool, Tool::kKconfig);
  EXPECT_EQ(all[2].severity, Severity::kError);
  EXPECT_EQ(all[2].file, "net/Kconfig");
  EXPECT_EQ(all[2].line, 12u);
  EXPECT_EQ(all[2].message, "syntax error");
  EXPECT_EQ(all[3].tool, Tool::kKconfig);
  EXPECT_EQ(all[3].severity, Severity::kWarning);
  EXPECT_EQ(all[3].file, "arch/x86/Kconfig");
  EXPECT_EQ(all[3].line, 5u);
  EXPECT_EQ(all[3].message, "defaults for choice values not supported");
  EXPECT_EQ(all[4].tool, Tool::kKconfig);
  EXPECT_EQ(all[4].line, 1234u);
  EXPECT_EQ(all[5].tool, Tool::kKconfig);
  EXPECT_EQ(all[5].message, "unmet direct dependencies detected for FOO");
}

TEST(Diagnostics, FedByteByByteAsWhole) {
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string out = src.Run("broken.c", kBroken, "gcc -Wall -Wextra -c -o broken.o");
  auto whole = ParseDiagnostics(out);
  DiagnosticsParser parser;
  for (char c : out) parser.Feed(std::string_view(&c, 1));
  parser.Finish();
  ASSERT_EQ(parser.diagnostics().size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i)
    EXPECT_EQ(FormatDiagnostic(parser.diagnostics()[i]), FormatDiagnostic(whole[i]));
  EXPECT_GE(parser.count(Severity::kWarning), 2u);
  EXPECT_EQ(parser.count(Severity::kError), 2u);
}

TEST(Diagnostics, BoundedDiagnosticsAreCountedAndTheirNotesDropped) {
  DiagnosticsOptions options;
  options.max_diagnostics = 2;
  options.max_notes = 1;
  DiagnosticsParser parser(options);
  parser.Feed(
      "a.c:1:1: warning: one [-Wx]\n"
      "a.c:1:1: note: n1\n"
      "a.c:1:1: note: n2\n"
      "a.c:2:1: warning: two [-Wx]\n"
      "a.c:3:1: error: three\n"
      "a.c:3:1: note: of three\n"
      "a.c:4:1: warning: four");
  parser.Finish();
  // The error has a budget of its own: kept after the warnings filled theirs.
  ASSERT_EQ(parser.diagnostics().size(), 3u);
  EXPECT_EQ(parser.diagnostics()[0].notes.size(), 1u);
  EXPECT_EQ(parser.diagnostics()[1].notes.size(), 0u);
  EXPECT_EQ(parser.diagnostics()[2].message, "three");
  EXPECT_EQ(parser.diagnostics()[2].notes.size(), 1u);
  EXPECT_EQ(parser.dropped(), 1u);
  EXPECT_EQ(parser.count(Severity::kWarning), 3u);
  EXPECT_EQ(parser.count(Severity::kError), 1u);
  EXPECT_EQ(parser.tool_errors(), 1u);
  EXPECT_EQ(parser.line_count(), 7u);
}

TEST(Diagnostics, TheErrorAfterManyWarningsIsKeptAndTheTextKeptIsBounded) {
  // What a hostile build prints: long warnings, each with many long notes,
  // then the error that failed it and make's line.
  DiagnosticsParser parser;
  std::string note = "a.c:1:1: note: " + std::string(4000, 'n') + "\n";
  std::string out;
  for (int i = 0; i < 500; ++i) {
    out = "a.c:" + std::to_string(i + 1) + ":1: warning: " + std::string(4000, 'w') + " [-Wx]\n";
    for (int k = 0; k < 32; ++k) out += note;
    parser.Feed(out);
  }
  parser.Feed("kernel/broken.c:3:5: error: 'x' undeclared\n"
              "make[2]: *** [scripts/Makefile.build:229: kernel/broken.o] Error 1\n");
  parser.Finish();
  size_t bytes = 0;
  for (const auto& d : parser.diagnostics()) {
    bytes += d.message.size() + d.file.size();
    for (const auto& n : d.notes) bytes += n.message.size() + n.file.size();
  }
  EXPECT_LE(bytes, size_t{10} << 20);
  EXPECT_EQ(parser.count(Severity::kWarning), 500u);
  EXPECT_GT(parser.dropped(), 0u);  // past the byte budget
  EXPECT_EQ(parser.tool_errors(), 1u);  // make's line is not the tool's error
  ASSERT_GE(parser.diagnostics().size(), 2u);
  const auto& make = parser.diagnostics().back();
  EXPECT_EQ(make.target, "kernel/broken.o");
  const auto& error = parser.diagnostics()[parser.diagnostics().size() - 2];
  EXPECT_EQ(error.file, "kernel/broken.c");
  EXPECT_EQ(error.severity, Severity::kError);
}

TEST(Diagnostics, OverlongLinesAreCut) {
  DiagnosticsOptions options;
  options.max_line_bytes = 64;
  DiagnosticsParser parser(options);
  std::string line = "a.c:1:2: warning: " + std::string(1 << 20, 'x') + " [-Wx]\nb.c:3:4: error: next\n";
  for (size_t i = 0; i < line.size(); i += 4096) parser.Feed(std::string_view(line).substr(i, 4096));
  parser.Finish();
  ASSERT_EQ(parser.diagnostics().size(), 2u);
  EXPECT_EQ(parser.diagnostics()[0].message, std::string(64 - 18, 'x'));
  EXPECT_EQ(parser.diagnostics()[0].flag, "");  // cut off with the rest
  EXPECT_EQ(parser.diagnostics()[1].file, "b.c");
}

// Two compilers' output one after the other: gcc's "In function" context of
// the first does not reach the second's diagnostics in the same file.
TEST(Diagnostics, FunctionContextEndsWithTheCompilersOutput) {
  Sources src;
  ASSERT_TRUE(src.ok());
  std::string gcc = src.Run("broken.c", kBroken, "gcc -Wall -Wextra -c -o broken.o");
  std::string clang = HaveProgram("clang") ? src.Run("broken.c", kBroken, "clang -Wall -c -o broken.o")
                                           : "broken.c:5:6: warning: unused variable 'unused' [-Wunused-variable]\n";
  auto all = ParseDiagnostics(gcc + "  CC      broken.o\n" + clang);
  size_t with_function = 0;
  for (const auto& d : all) with_function += !d.function.empty();
  EXPECT_EQ(with_function, ParseDiagnostics(gcc).size() - 1) << gcc;  // the redefinition is at top level
  EXPECT_EQ(all.back().function, "");
}

TEST(Diagnostics, SourceExcerptsAndIncludeChainsAreNotDiagnostics) {
  auto all = ParseDiagnostics(
      "In file included from ./include/linux/kernel.h:5,\n"
      "                 from net/x.c:1:\n"
      "    6 |  printf(\"a.c:1:1: error: inside a string\");\n"
      "      |  ^~~~~~\n"
      "In function 'f',\n"
      "    inlined from 'g' at net/x.c:9:3:\n"
      "  CC      net/x.o\n"
      "3 warnings and 1 error generated.\n"
      "compilation terminated.\n");
  EXPECT_TRUE(all.empty()) << FormatDiagnostic(all[0]);
}

// The base build and a build of the same file with three lines added on top
// and one more unused variable: only that variable's warning is new.
TEST(Diagnostics, NewWarningsIgnoreShiftedLines) {
  Sources src;
  ASSERT_TRUE(src.ok());
  const std::string body =
      "int f(int a)\n{\n\tint unused;\n\tchar buf[4];\n\treturn a + buf[5];\n}\n"
      "int g(void)\n{\n\tint unused;\n\treturn 0;\n}\n";
  auto base = ParseDiagnostics(src.Run("x.c", body, "gcc -O2 -Wall -Wextra -c -o x.o"));
  ASSERT_GE(base.size(), 2u);
  std::string changed = "/* one */\n/* two */\n/* three */\n" + body;
  changed.replace(changed.find("\tint unused;\n\treturn 0;"), 12, "\tint unused;\n\tint spare;\n");
  auto current = ParseDiagnostics(src.Run("x.c", changed, "gcc -O2 -Wall -Wextra -c -o x.o"));
  ASSERT_EQ(current.size(), base.size() + 1);
  for (size_t i = 0; i < base.size(); ++i) EXPECT_NE(current[i].line, base[i].line);

  auto fresh = NewWarnings(base, current);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_NE(fresh[0].message.find("spare"), std::string::npos);
  EXPECT_EQ(fresh[0].function, "g");
  EXPECT_TRUE(NewWarnings(current, current).empty());
  EXPECT_TRUE(NewWarnings(current, base).empty());
}

TEST(Diagnostics, NewWarningsCountCopiesAndNormaliseNumbersAndQuotes) {
  auto base = ParseDiagnostics(
      "a.c: In function \xe2\x80\x98" "f\xe2\x80\x99:\n"
      "a.c:10:5: warning: unused variable \xe2\x80\x98x1\xe2\x80\x99 [-Wunused-variable]\n"
      "a.c:40:1: warning: the frame size of 2056 bytes is larger than 2048 bytes [-Wframe-larger-than=]\n");
  auto current = ParseDiagnostics(
      "a.c: In function 'f':\n"
      "a.c:12:5: warning: unused variable 'x1' [-Wunused-variable]\n"
      "a.c:13:5: warning: unused variable 'x1' [-Wunused-variable]\n"
      "a.c:14:5: warning: unused variable 'x2' [-Wunused-variable]\n"
      "a.c:44:1: warning: the frame size of 2072 bytes is larger than 2048 bytes [-Wframe-larger-than=]\n");
  auto fresh = NewWarnings(base, current);
  ASSERT_EQ(fresh.size(), 2u);
  EXPECT_EQ(fresh[0].line, 13u);  // a second copy of a known warning
  EXPECT_EQ(fresh[1].line, 14u);  // digits inside a name are the name
}

}  // namespace
}  // namespace vigil::kbuild
