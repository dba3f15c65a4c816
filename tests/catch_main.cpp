// The one CATCH_CONFIG_MAIN. Tests find the extraction worker through
// $DOSSIER_EXTRACT_WORKER (the binary is in build/tools/, not beside them).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

int main(int argc, char* argv[]) {
  ::setenv("DOSSIER_EXTRACT_WORKER", DOSSIER_EXTRACT_WORKER_PATH, 0);
  return Catch::Session().run(argc, argv);
}
