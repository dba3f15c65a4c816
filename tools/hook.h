// The reminder hook of `dossier serve --notify-command` and `dossier
// remind --hook`: an operator's command (mail, chat) run through /bin/sh
// with one fired reminder as JSON on standard input (ids, times and user
// names; no titles or content). It comes from the command line only,
// never from the repository, which anyone holding the files could edit.
// Thread-safety: any thread; each call runs its own child.
#pragma once

#include <chrono>
#include <string>

namespace dossier::tools {

// Runs `command` with `input` on its standard input and waits at most
// `limit` (then kills it). Returns its exit status, or -1 if it could not
// start, was killed or timed out; never throws.
int RunHook(const std::string& command, const std::string& input,
            std::chrono::seconds limit = std::chrono::seconds(30));

}  // namespace dossier::tools
