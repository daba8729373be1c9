#!/usr/bin/env bash
# Runs a libFuzzer target for SECONDS on a corpus seeded with real material:
# KTAP (kunit_tool's test_data, vigil's golden kselftest logs) or, with KIND
# "console", the recorded kernel consoles of tests/console/corpus. Exits
# non-zero on any crash, leak, sanitizer report or timeout the fuzzer finds.
#   fuzz/run.sh FUZZER [SECONDS] [ktap|console|channel|known_issues|diagnostics|kconfig|patchwork|mail|web|summary]
set -euo pipefail
fuzzer=$1
seconds=${2:-60}
kind=${3:-ktap}
if [ "$kind" = console ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-console"
  mkdir -p "$corpus"
  # Real consoles, cut into pieces the fuzzer's max_len keeps whole.
  for f in "$VIGIL_SRC"/tests/console/corpus/*/*.log; do
    tail -c 60000 "$f" > "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
elif [ "$kind" = known_issues ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-known-issues"
  mkdir -p "$corpus"
  printf '[[issue]]\nmatch = "net/mptcp:mptcp_join.sh:*"\nreason = "r"\nlink = "l"\nkernel = ">=6.1, <6.7"\nwhere = "vm"\naccel = "tcg"\nexpires = 2027-01-31\n' > "$corpus/full"
  printf '[[issue]]\nmatch = "*"\nreason = "r"\ncrash = "WARNING in *"\nfingerprint = "0123456789abcdef"\n' > "$corpus/crash"
elif [ "$kind" = diagnostics ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-diagnostics"
  mkdir -p "$corpus"
  # What gcc, clang, ld, make, modpost and Kconfig print in a kernel build.
  printf 'a.c: In function \xe2\x80\x98g\xe2\x80\x99:\na.c:6:16: warning: implicit declaration of function \xe2\x80\x98foo\xe2\x80\x99 [-Wimplicit-function-declaration]\n    6 |  return foo(x);\n      |         ^~~\na.c: At top level:\na.c:10:5: error: redefinition of \xe2\x80\x98v\xe2\x80\x99\na.c:9:5: note: previous definition of \xe2\x80\x98v\xe2\x80\x99\nf.c:1:10: fatal error: nope.h: No such file or directory\ncompilation terminated.\n' > "$corpus/gcc"
  printf "b.c:5:6: warning: unused variable 'unused' [-Werror,-Wunused-variable]\n\x1b[1mb.c:15:1: \x1b[0;1;31merror: \x1b[0mexpected expression\x1b[0m\n1 warning and 1 error generated.\n" > "$corpus/clang"
  printf "ld: vmlinux.o: in function \`f':\nnet/x.c:12: undefined reference to \`g'\nx.c:(.text+0x5): undefined reference to \`h'\nld.lld: error: undefined symbol: baz\n>>> referenced by core.c:12\ncollect2: error: ld returned 1 exit status\n" > "$corpus/ld"
  printf 'make[4]: *** [scripts/Makefile.build:243: net/x.o] Error 1\nmake[3]: *** Waiting for unfinished jobs....\nERROR: modpost: "s" [net/x.ko] undefined!\nWARNING: modpost: vmlinux: section mismatch in reference: f+0x12\nnet/Kconfig:12: syntax error\n.config:3:warning: symbol value invalid\n' > "$corpus/make"
elif [ "$kind" = kconfig ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-kconfig"
  mkdir -p "$corpus"
  # vigil's own fragments, and the lines a .config has.
  cp "$VIGIL_SRC"/configs/*.config "$corpus"/
  printf '#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S="a \\"q\\" b"\nCONFIG_N=0x1F\nCONFIG_D=-12\n' > "$corpus/dotconfig"
elif [ "$kind" = patchwork ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-patchwork"
  mkdir -p "$corpus"
  # What Patchwork 3.1 serves: an events page, a series, checks, a Link
  # header, error bodies.
  printf '[{"id":9,"category":"series-completed","date":"2026-12-05T02:20:54.740782","actor":null,"payload":{"series":{"id":1,"url":"http://127.0.0.1:8650/api/1.2/series/1/","version":1,"mbox":"http://127.0.0.1:8650/series/1/mbox/"}}}]' > "$corpus/events"
  printf '{"id":1,"name":"a: three changes","date":"2026-12-05T02:20:49","submitter":{"id":1,"name":"Ann Dev","email":"ann@example.org"},"version":1,"total":2,"received_total":2,"received_all":true,"mbox":"http://h/series/1/mbox/","cover_letter":{"id":1,"msgid":"<c@x>","name":"[0/2] a","mbox":"http://h/c/mbox/"},"patches":[{"id":1,"msgid":"<1@x>","name":"[1/2] a","mbox":"http://h/1/mbox/"},{"id":2,"msgid":"<2@x>","name":"[2/2] b","mbox":"http://h/2/mbox/"}]}' > "$corpus/series"
  printf '[{"id":1,"date":"2026-12-05T02:21:09.444688","state":"success","target_url":"http://ci.example.org/y","context":"vigil","description":"ok"}]' > "$corpus/checks"
  printf '<http://h/api/1.2/events/?page=3&per_page=2>; rel="next", <http://h/api/1.2/events/?per_page=2>; rel="prev", <http://h/api/1.2/events/?page=5>; rel="last"' > "$corpus/link"
  printf '{"state":["\"bogus\" is not a valid choice."],"target_url":["Enter a valid URL."]}' > "$corpus/error"
elif [ "$kind" = mail ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-mail"
  mkdir -p "$corpus"
  # Subjects, names and bodies as Patchwork and test output bring them.
  printf 'J\xc3\xb6rg M\xc3\xbcller\\ci@example.org\\[PATCH net-next v2 0/3] mptcp: r\xc3\xa9parer\\x\r\nBcc: evil\\20261205.cover@example.org\\X-Vigil-Series\\42\\# selftests: net/mptcp: mptcp_join.sh\nnot ok 1 test\n.\n' > "$corpus/reply"
  printf '"Doe, Jane" =?UTF-8?B?ZXZpbA==?=\\\x00\x1b[31m\\%s\\\\\\%s\n' "$(head -c 1200 /dev/zero | tr '\0' x)" "$(head -c 1500 /dev/zero | tr '\0' y)" > "$corpus/long"
elif [ "$kind" = summary ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-summary"
  mkdir -p "$corpus"
  # Packed subtest verdicts as the store keeps them: path, status, duration.
  printf '\x05first\x04PASS\x01\x0a\x0dgroup > inner\x05FLAKY\x00' > "$corpus/packed"
elif [ "$kind" = web ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-web"
  mkdir -p "$corpus"
  # FuzzedDataProvider's strings end at a backslash not followed by one:
  # test, subtest, output, crash title, path, query key, value.
  printf '<img src=x onerror=alert(1)>.sh\\x </script><script>\\\033[31mred\\WARNING in f\\/tests\\path\\c:<b>\\\x01' > "$corpus/xss"
  printf 'a.sh\\sub\\ok\\BUG: x\\/runs\\page\\99999999999\\\x00' > "$corpus/page"
elif [ "$kind" = channel ]; then
  corpus="$VIGIL_BUILD/fuzz-corpus-channel"
  mkdir -p "$corpus"
  # A hello, a request, output and an end, framed as the guest writes them.
  printf 'H\0\0\0\0\x19\0\0\0{"kernel_release":"6.12"}' > "$corpus/hello"
  printf 'O\x01\0\0\0\x06\0\0\0ok 1 a' > "$corpus/output"
  printf 'E\x01\0\0\0\x1e\0\0\0{"exited":true,"code":0,"d":1}' > "$corpus/end"
else
  corpus="$VIGIL_BUILD/fuzz-corpus"
  mkdir -p "$corpus"
  src=$(bash "$VIGIL_SRC/scripts/linux-source.sh" "$VIGIL_BUILD/linux-src")
  cp -n "$src"/tools/testing/kunit/test_data/*.log "$corpus"/ 2>/dev/null || true
  cp -n "$VIGIL_SRC"/tests/golden/*.log "$corpus"/ 2>/dev/null || true
fi
mkdir -p "$VIGIL_BUILD/fuzz-artifacts"
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$VIGIL_BUILD/fuzz-artifacts/" -print_final_stats=1 "$corpus" 2>&1 | tail -n 15
echo "fuzz: no findings in ${seconds}s"
