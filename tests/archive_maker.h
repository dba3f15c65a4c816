// Test helper: builds archives in memory with libarchive's writer.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <functional>
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
