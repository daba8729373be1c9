#include "sys/smtp.h"

#include "sys/net_module.h"

namespace vigil::sys {

Status SendMail(const SmtpSettings& smtp, const std::string& from, const std::vector<std::string>& recipients,
                const std::string& message) {
  auto send = NetFunction<void(const SmtpSettings&, const std::string&, const std::vector<std::string>&,
                               const std::string&, Status*)>("vigil_net_send_mail");
  if (!send.ok()) return send.status();
  Status s;
  (*send)(smtp, from, recipients, message, &s);
  return s;
}

}  // namespace vigil::sys
