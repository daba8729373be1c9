#include "sys/smtp.h"

#include "sys/net_module.h"

namespace vigil::sys {

Status SendMail(const SmtpSettings& smtp, const std::string& from, const std::vector<std::string>& recipients,
                const std::string& message, std::vector<SmtpRefusal>* refusals) {
  auto send = NetFunction<void(const SmtpSettings&, const std::string&, const std::vector<std::string>&,
                               const std::string&, std::vector<SmtpRefusal>*, Status*)>("vigil_net_send_mail_v3");
  if (!send.ok()) return send.status();
  Status s;
  std::vector<SmtpRefusal> refused;
  (*send)(smtp, from, recipients, message, &refused, &s);
  if (refusals) *refusals = std::move(refused);
  return s;
}

}  // namespace vigil::sys
