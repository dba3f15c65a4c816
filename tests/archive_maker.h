// Test helper: builds archives in memory with libarchive's writer.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dossier::testing {

struct Entry {
  Entry(std::string n, std::string d, std::string link = "")
      : name(std::move(n)), data(std::move(d)), symlink(std::move(link)) {}
  std::string name;
  std::string data;
  std::string symlink;  // non-empty: a symlink entry to this target
};

// format: "zip", "tar", "7z"; filter: "", "gzip", "bzip2", "xz".
// `stream` (optional) writes one big entry in pieces: (name, size, producer).
inline std::string MakeArchive(const std::string& format, const std::string& filter,
                               const std::vector<Entry>& entries,
                               const std::string& big_name = "", std::uint64_t big_size = 0) {
  std::string out;
  archive* a = archive_write_new();
  if (format == "zip") archive_write_set_format_zip(a);
  else if (format == "7z") archive_write_set_format_7zip(a);
  else archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  else if (filter == "bzip2") archive_write_add_filter_bzip2(a);
  else if (filter == "xz") archive_write_add_filter_xz(a);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  auto add = [&](const std::string& name, std::uint64_t size, const std::string& symlink,
                 const std::function<void()>& body) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    if (!symlink.empty()) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, symlink.c_str());
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(size));
    }
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    body();
    archive_entry_free(e);
  };
  for (const auto& en : entries) {
    add(en.name, en.data.size(), en.symlink, [&] {
      if (!en.data.empty()) archive_write_data(a, en.data.data(), en.data.size());
    });
  }
  if (big_size > 0) {
    add(big_name, big_size, "", [&] {
      std::string zeros(1 << 20, '\0');
      for (std::uint64_t done = 0; done < big_size; done += zeros.size()) {
        archive_write_data(a, zeros.data(), std::min<std::uint64_t>(zeros.size(), big_size - done));
      }
    });
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

namespace rar_detail {
inline std::uint32_t Crc32(const std::string& s) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}
inline void Le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
// A RAR 4 block: CRC16 (low half of the CRC-32 of the rest), then the rest.
inline std::string Block(const std::string& rest) {
  std::string out;
  Le(out, Crc32(rest) & 0xFFFF, 2);
  return out + rest;
}
}  // namespace rar_detail

// A RAR 4 archive of stored (uncompressed) entries, laid out by hand from
// RARLAB's technote: no free program writes RAR, and libarchive only reads
// it. Stored entries exercise libarchive's RAR reader the same way as
// compressed ones up to the decompressor.
inline std::string MakeRar4(const std::vector<Entry>& entries) {
  using namespace rar_detail;
  std::string out("Rar!\x1a\x07\x00", 7);
  std::string head;
  head += '\x73';
  Le(head, 0, 2);   // flags
  Le(head, 13, 2);  // header size
  Le(head, 0, 6);   // reserved
  out += Block(head);
  for (const auto& e : entries) {
    std::string h;
    h += '\x74';
    Le(h, 0x8000, 2);                     // flags: a data area follows
    Le(h, 32 + e.name.size(), 2);         // header size
    Le(h, e.data.size(), 4);              // packed size
    Le(h, e.data.size(), 4);              // unpacked size
    h += '\x03';                          // host OS: Unix
    Le(h, Crc32(e.data), 4);
    Le(h, 0x5A8E6000, 4);                 // DOS time: 2025-04-14 12:00
    h += '\x14';                          // version 2.0 to extract
    h += '\x30';                          // method: store
    Le(h, e.name.size(), 2);
    Le(h, 0100644, 4);                    // Unix mode
    h += e.name;
    out += Block(h) + e.data;
  }
  std::string end;
  end += '\x7b';
  Le(end, 0x4000, 2);
  Le(end, 7, 2);
  out += Block(end);
  return out;
}

// A fully overlapping zip bomb (after David Fifield's "A better zip
// bomb"): `copies` central-directory records, each with its own name, all
// pointing at the one local header and compressed kernel of `size` zero
// bytes: copies x size if a reader expanded every record.
inline std::string MakeOverlappingZip(int copies, std::uint64_t size) {
  const std::string base = MakeArchive("zip", "", {}, "zeros.bin", size);
  auto u16 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(base[at]) |
                                      static_cast<unsigned char>(base[at + 1]) << 8);
  };
  auto u32 = [&](std::size_t at) { return u16(at) | u16(at + 2) << 16; };
  const std::size_t eocd = base.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos || u16(eocd + 10) != 1) throw std::runtime_error("unexpected zip");
  const std::size_t cd = u32(eocd + 16);
  const std::string record = base.substr(cd, u32(eocd + 12));
  if (u16(cd + 28) != 9) throw std::runtime_error("unexpected entry name");  // "zeros.bin"
  std::string out = base.substr(0, cd);
  for (int i = 0; i < copies; ++i) {
    std::string r = record;
    char name[10];
    std::snprintf(name, sizeof name, "z%04d.bin", i % 10000);
    std::memcpy(&r[46], name, 9);
    out += r;
  }
  std::string end = base.substr(eocd);
  std::string counts;
  rar_detail::Le(counts, static_cast<std::uint64_t>(copies), 2);
  end.replace(8, 2, counts);
  end.replace(10, 2, counts);
  std::string cd_size;
  rar_detail::Le(cd_size, record.size() * static_cast<std::size_t>(copies), 4);
  end.replace(12, 4, cd_size);
  return out + end;
}

// A minimal one-page PDF showing `text` (ASCII, no parentheses).
inline std::string MakePdf(const std::string& text, const std::string& title) {
  std::vector<std::string> objs = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "",  // content stream, below
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
      "<< /Title (" + title + ") /Author (Test Author) >>"};
  const std::string content = "BT /F1 12 Tf 72 712 Td (" + text + ") Tj ET";
  objs[3] = "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream";
  std::string pdf = "%PDF-1.4\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (auto off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) +
         " /Root 1 0 R /Info 6 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

}  // namespace dossier::testing
