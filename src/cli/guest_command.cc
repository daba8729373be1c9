// vigil guest --port DEV [--path PATH]: the guest side of `vigil run --kernel`,
// started by the VM's init (not for people).
#include <memory>
#include <string>

#include "cli/command.h"
#include "vm/guest.h"

namespace vigil::cli {

Runner SetupGuestCommand(CLI::App* app) {
  auto port = std::make_shared<std::string>();
  auto path = std::make_shared<std::string>("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  app->description("The guest side of `vigil run --kernel`, started inside the VM by its init.");
  app->add_option("--port", *port, "The virtio-serial port of the results channel")->required();
  app->add_option("--path", *path, "PATH the tools are looked up in");
  return [port, path] { return vm::RunGuest(*port, *path); };
}

}  // namespace vigil::cli
