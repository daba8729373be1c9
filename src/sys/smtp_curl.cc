// SendMail through libcurl, in vigil-net.so (sys/net_module.h).
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include "base/text.h"
#include "sys/smtp.h"

namespace vigil::sys {
namespace {

// The server's replies are kept for the error message, bounded.
constexpr size_t kMaxReplyBytes = 600;

bool HasPrefixNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// scheme://host[:port] of `url`: no user information, path or query, so an
// error message never shows credentials a URL might carry.
std::string ServerName(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return SanitizeLine(url.substr(0, 200));
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  return SanitizeLine(std::string(url.substr(0, scheme_end + 3)) + std::string(rest.substr(0, 200)));
}

// True when `url`'s host is this machine (localhost, 127.x.x.x, [::1]).
bool LocalHost(std::string_view url) {
  std::string name = ServerName(url);
  std::string_view host = name;
  if (size_t p = host.find("://"); p != std::string_view::npos) host.remove_prefix(p + 3);
  if (host.starts_with("[")) return host.starts_with("[::1]");
  host = host.substr(0, host.find(':'));
  return (host.size() == 9 && HasPrefixNoCase(host, "localhost")) || host.starts_with("127.");
}

// An address for MAIL FROM / RCPT TO: nothing that could end the command
// line or the <> around it.
bool PlainAddress(std::string_view a) {
  if (a.empty() || a.size() > 320) return false;
  for (unsigned char c : a) {
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>') return false;
  }
  return true;
}

// The server's replies (CURLINFO_HEADER_IN lines): the last refusal (4xx or
// 5xx) is kept, whole, for the error message (the QUIT that follows it must
// not replace it), and whether AUTH succeeded (235).
struct Replies {
  std::string current;
  std::string refusal;
  std::string rcpt;  // the address of the RCPT TO the next reply answers
  std::vector<SmtpRefusal> refusals;  // every one, up to kMaxRefusals
  bool authenticated = false;
};

constexpr size_t kMaxRefusals = 1000;

int Debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto* r = static_cast<Replies*>(user);
  if (type == CURLINFO_HEADER_OUT) {
    // A command: the replies that follow answer it (libcurl sends one at a
    // time). RCPT TO names the recipient a refusal is about.
    std::string_view command(data, size);
    r->rcpt.clear();
    if (HasPrefixNoCase(command, "rcpt to:<")) {
      command.remove_prefix(9);
      r->rcpt = std::string(command.substr(0, command.find('>')));
    }
    return 0;
  }
  if (type != CURLINFO_HEADER_IN) return 0;
  std::string_view text(data, size);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (!r->current.empty()) r->current += " / ";
  if (r->current.size() < kMaxReplyBytes) {
    r->current += SanitizeLine(text.substr(0, kMaxReplyBytes - r->current.size()));
  }
  bool continues = text.size() > 3 && text[3] == '-';  // "250-..." lines of a multi-line reply
  if (!continues) {
    if (text.starts_with('4') || text.starts_with('5')) {
      r->refusal = r->current;
      if (r->refusals.size() < kMaxRefusals) r->refusals.push_back({r->rcpt, r->current});
    }
    if (text.starts_with("235")) r->authenticated = true;
    r->current.clear();
  }
  return 0;
}

struct Upload {
  const std::string* data = nullptr;
  size_t offset = 0;
  // With a user, the message is only given to a server that authenticated
  // it: libcurl goes on without AUTH when the server offers none.
  bool require_auth = false;
  const Replies* replies = nullptr;
  bool refused_unauthenticated = false;
};

size_t ReadChunk(char* buffer, size_t size, size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  if (up->require_auth && !up->replies->authenticated) {
    up->refused_unauthenticated = true;
    return CURL_READFUNC_ABORT;
  }
  size_t n = std::min(size * count, up->data->size() - up->offset);
  std::memcpy(buffer, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Replaces every occurrence of `secret` in `text` (a server or curl quoting
// it back must not put it in a log).
std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

Status SendMailWithCurl(const SmtpSettings& smtp, const std::string& from, const std::vector<std::string>& recipients,
                        const std::string& message, std::vector<SmtpRefusal>* refusals) {
  std::string server = ServerName(smtp.url);
  if (!HasPrefixNoCase(smtp.url, "smtp://") && !HasPrefixNoCase(smtp.url, "smtps://")) {
    return Status::InvalidArgument(fmt::format("mail server {}: not an smtp:// or smtps:// URL", server));
  }
  if (!smtp.user.empty() && !smtp.starttls && !HasPrefixNoCase(smtp.url, "smtps://") && !LocalHost(smtp.url)) {
    return Status::InvalidArgument(fmt::format(
        "mail server {}: a password would cross the network in clear text (use smtps:// or STARTTLS)", server));
  }
  if (!PlainAddress(from)) {
    return Status::InvalidArgument(fmt::format("mail sender '{}': not an address", SanitizeLine(from)));
  }
  if (recipients.empty()) return Status::InvalidArgument("mail without recipients");
  for (const auto& r : recipients) {
    if (!PlainAddress(r)) {
      return Status::InvalidArgument(fmt::format("mail recipient '{}': not an address", SanitizeLine(r)));
    }
  }

  GlobalInit();
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  std::unique_ptr<curl_slist, SlistFree> rcpt;
  for (const auto& r : recipients) {
    curl_slist* next = curl_slist_append(rcpt.get(), ("<" + r + ">").c_str());
    if (!next) return Status::Internal("curl_slist_append failed");
    (void)rcpt.release();
    rcpt.reset(next);
  }
  Replies replies;
  Upload upload;
  upload.data = &message;
  upload.require_auth = !smtp.user.empty();
  upload.replies = &replies;
  char error[CURL_ERROR_SIZE] = {0};
  std::string mail_from = "<" + from + ">";

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, smtp.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  // (Spelt with three L's before libcurl 8.2, which keeps that name.)
  if (smtp.deliver_to_accepted) curl_easy_setopt(c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadChunk);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  if (smtp.starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!smtp.user.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, smtp.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, smtp.password.c_str());
  }
  if (smtp.timeout_seconds > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(smtp.timeout_seconds));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min(smtp.timeout_seconds, 30)));
  }
  // The server's replies reach Debug() only with VERBOSE on; nothing is
  // printed (the callback replaces libcurl's own output).
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, Debug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &replies);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);

  CURLcode code = curl_easy_perform(c);
  // Each recipient refused, whether the message was taken (they were passed
  // over) or not (a caller tells those refused for good from those refused
  // for now either way).
  *refusals = replies.refusals;
  for (auto& r : *refusals) r.reply = Scrub(std::move(r.reply), smtp.password);
  if (code == CURLE_OK) return Status::OK();

  if (upload.refused_unauthenticated) {
    return Status::IOError(fmt::format(
        "cannot send mail through {}: the server did not authenticate user '{}' (it offers no AUTH?); nothing sent",
        server, SanitizeLine(smtp.user)));
  }
  // Every recipient refused for good (5xx): sending again changes nothing.
  // (Refusals of other commands -- AUTH, DATA -- are no recipient's.)
  size_t refused = 0, for_now = 0;
  for (const auto& r : replies.refusals) {
    if (r.recipient.empty()) continue;
    ++refused;
    for_now += r.temporary() ? 1 : 0;
  }
  if (smtp.deliver_to_accepted && refused >= recipients.size() && for_now == 0) {
    std::string said;
    for (const auto& r : replies.refusals) {
      if (!r.recipient.empty()) said += (said.empty() ? "" : "; ") + r.reply;
    }
    return Status::InvalidArgument(
        fmt::format("mail through {}: every recipient was refused: {}", server, Scrub(said, smtp.password)));
  }
  std::string words = curl_easy_strerror(code);
  std::string detail = SanitizeLine(error);
  if (!detail.empty() && detail != words) words += ": " + detail;
  if (!replies.refusal.empty()) words += "; the server said: " + replies.refusal;
  words = Scrub(std::move(words), smtp.password);
  return Status::IOError(fmt::format("cannot send mail through {}: {}", server, words));
}

}  // namespace
}  // namespace vigil::sys

// The module's entry point behind sys::SendMail.
// (v3: with the refusals by recipient; an older module, which lacks it, is
// refused at lookup instead of being called with other arguments.)
extern "C" void vigil_net_send_mail_v3(const vigil::sys::SmtpSettings& smtp, const std::string& from,
                                    const std::vector<std::string>& recipients, const std::string& message,
                                    std::vector<vigil::sys::SmtpRefusal>* refusals, vigil::Status* out) {
  *out = vigil::sys::SendMailWithCurl(smtp, from, recipients, message, refusals);
}
