#include "api/qr.h"

#include <qrencode.h>

#include <memory>

#include "base/error.h"

namespace dossier::api {

QrCode EncodeQr(const std::string& text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!code) throw Error(ErrorCode::kInvalidArgument, "cannot make a QR code of that text");
  QrCode out;
  out.size = code->width;
  out.modules.reserve(static_cast<std::size_t>(code->width) * code->width);
  for (int i = 0; i < code->width * code->width; ++i) {
    out.modules += (code->data[i] & 1) ? '1' : '0';  // bit 0: dark module
  }
  return out;
}

}  // namespace dossier::api
