// A QR code (libqrencode) as its grid of modules, for the page to draw on
// a canvas: the page never receives markup or an image it must trust.
#pragma once

#include <string>

namespace dossier::api {

struct QrCode {
  int size = 0;          // modules per side
  std::string modules;   // size*size characters, row-major, '1' dark
};

// Error(kInvalidArgument) if `text` cannot be encoded (too long).
QrCode EncodeQr(const std::string& text);

}  // namespace dossier::api
