//===- Npy.cpp - NumPy .npy reading and writing ---------------------------===//
//
// The .npy format (numpy/lib/format.py): the magic "\x93NUMPY", a version
// byte pair, a little-endian header length (2 bytes in v1, 4 bytes in v2 and
// v3), and a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a newline, then the raw element bytes.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/Npy.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include <unistd.h>

// Element bytes are stored and read as host memory; .npy data is
// little-endian, so the host has to be too.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "quantc's .npy I/O assumes a little-endian host");

namespace quantc {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
/// numpy pads the header so the data starts at a multiple of 64 bytes.
constexpr size_t kHeaderAlignment = 64;

struct DTypeInfo {
  DType type;
  /// Kind and size as in a descr, without the byte-order character: "f4".
  const char *kindAndSize;
  const char *descr;
  const char *name;
  int size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f4", "<f4", "f32", 4}, {DType::F16, "f2", "<f2", "f16", 2},
    {DType::F64, "f8", "<f8", "f64", 8}, {DType::I8, "i1", "|i1", "i8", 1},
    {DType::I16, "i2", "<i2", "i16", 2}, {DType::I32, "i4", "<i4", "i32", 4},
    {DType::I64, "i8", "<i8", "i64", 8}, {DType::U8, "u1", "|u1", "ui8", 1},
    {DType::Bool, "b1", "|b1", "i1", 1},
};

const DTypeInfo &info(DType t) {
  for (const DTypeInfo &i : kDTypes)
    if (i.type == t)
      return i;
  return kDTypes[0]; // Unreachable: every enumerator has an entry.
}

/// Maps a descr to a DType, or sets `problem` (without the file name).
std::optional<DType> parseDescr(const std::string &descr, std::string &problem) {
  if (descr.size() < 2) {
    problem = "unsupported dtype '" + descr + "'";
    return std::nullopt;
  }
  char byteOrder = descr[0];
  std::string kindAndSize = descr.substr(1);
  if (byteOrder != '<' && byteOrder != '>' && byteOrder != '|' &&
      byteOrder != '=') {
    // numpy always writes a byte-order character; a bare "f4" is malformed.
    problem = "unsupported dtype '" + descr + "'";
    return std::nullopt;
  }
  if (kindAndSize[0] == 'O') {
    problem = "object arrays are not supported";
    return std::nullopt;
  }
  for (const DTypeInfo &i : kDTypes) {
    if (kindAndSize != i.kindAndSize)
      continue;
    // Byte order is meaningless for one-byte types ('|i1', '<i1', '>i1').
    if (byteOrder == '>' && i.size > 1) {
      problem = "big-endian data ('" + descr + "') is not supported";
      return std::nullopt;
    }
    return i.type;
  }
  problem = "unsupported dtype '" + descr +
            "' (supported: f32, f16, f64, i8, i16, i32, i64, u8, bool)";
  return std::nullopt;
}

/// A parser for the one Python literal numpy writes as the header: a dict
/// with string keys whose values are strings, booleans or int tuples.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text(text) {}

  /// Fills the three fields; false and `problem` set on malformed input.
  bool parse(std::string &descr, bool &fortranOrder,
             std::vector<int64_t> &shape, std::string &problem) {
    bool haveDescr = false, haveFortran = false, haveShape = false;
    if (!consume('{'))
      return fail("malformed header: expected '{'", problem);
    while (!consume('}')) {
      std::string key;
      if (!parseString(key) || !consume(':'))
        return fail("malformed header: expected 'key': value", problem);
      if (key == "descr") {
        skipSpace();
        if (pos < text.size() && text[pos] == '[')
          return fail("structured dtypes are not supported", problem);
        if (!parseString(descr))
          return fail("malformed header: 'descr' is not a string", problem);
        haveDescr = true;
      } else if (key == "fortran_order") {
        if (!parseBool(fortranOrder))
          return fail("malformed header: 'fortran_order' is not a boolean",
                      problem);
        haveFortran = true;
      } else if (key == "shape") {
        if (!parseShape(shape))
          return fail("malformed header: 'shape' is not a tuple of "
                      "non-negative integers",
                      problem);
        haveShape = true;
      } else {
        return fail("malformed header: unexpected key '" + key + "'", problem);
      }
      // Entries are separated by commas; one may trail before the '}'.
      if (!consume(',')) {
        if (!consume('}'))
          return fail("malformed header: expected ',' or '}'", problem);
        break;
      }
    }
    if (!haveDescr || !haveFortran || !haveShape)
      return fail("malformed header: needs 'descr', 'fortran_order' and "
                  "'shape'",
                  problem);
    skipSpace();
    if (pos != text.size())
      return fail("malformed header: trailing characters after the dict",
                  problem);
    return true;
  }

private:
  static bool fail(const std::string &message, std::string &problem) {
    problem = message;
    return false;
  }

  void skipSpace() {
    while (pos < text.size() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' ||
            text[pos] == '\r'))
      ++pos;
  }

  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }

  bool consumeWord(const char *word) {
    skipSpace();
    size_t n = std::strlen(word);
    if (text.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }

  bool parseString(std::string &out) {
    skipSpace();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
      return false;
    char quote = text[pos++];
    size_t end = text.find(quote, pos);
    if (end == std::string::npos)
      return false;
    out = text.substr(pos, end - pos);
    pos = end + 1;
    return true;
  }

  bool parseBool(bool &out) {
    if (consumeWord("True")) {
      out = true;
      return true;
    }
    if (consumeWord("False")) {
      out = false;
      return true;
    }
    return false;
  }

  bool parseShape(std::vector<int64_t> &shape) {
    shape.clear();
    if (!consume('('))
      return false;
    while (!consume(')')) {
      skipSpace();
      int64_t dim = 0;
      size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10)
          return false;
        dim = dim * 10 + (text[pos++] - '0');
        ++digits;
      }
      // Python 2 era files may write long integers as "3L".
      if (pos < text.size() && text[pos] == 'L')
        ++pos;
      if (digits == 0)
        return false;
      shape.push_back(dim);
      if (!consume(',')) {
        if (!consume(')'))
          return false;
        break;
      }
    }
    return true;
  }

  const std::string &text;
  size_t pos = 0;
};

uint32_t readLittleEndian(const uint8_t *p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i)
    value = (value << 8) | p[i];
  return value;
}

/// Element count of `shape`, or nullopt if it overflows int64.
std::optional<int64_t> checkedNumElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      return std::nullopt;
    n *= d;
  }
  return n;
}

std::string shapeToPython(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1)
    s += ",";
  return s + ")";
}

/// IEEE binary16 to binary32, exact for every code.
float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    // Inf or NaN; keep the payload (and so quietness) in the top bits.
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: mantissa * 2^-24, a normal number in f32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

template <typename T> T load(const uint8_t *p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

} // namespace

int dtypeSize(DType t) { return info(t).size; }
const char *dtypeDescr(DType t) { return info(t).descr; }
const char *dtypeName(DType t) { return info(t).name; }

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::optional<HostTensor> readNpy(const std::string &path, std::string &error) {
  auto fail = [&](const std::string &problem) -> std::optional<HostTensor> {
    error = path + ": " + problem;
    return std::nullopt;
  };

  std::ifstream file(path, std::ios::binary);
  if (!file)
    return fail(std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> contents((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  if (file.bad())
    return fail(std::string("read error: ") + std::strerror(errno));

  if (contents.size() < kMagicSize + 2 ||
      std::memcmp(contents.data(), kMagic, kMagicSize) != 0)
    return fail("not a .npy file (bad magic)");
  int major = contents[kMagicSize];
  int minor = contents[kMagicSize + 1];
  if (major < 1 || major > 3)
    return fail("unsupported .npy version " + std::to_string(major) + "." +
                std::to_string(minor));
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t prefix = kMagicSize + 2 + lengthBytes;
  if (contents.size() < prefix)
    return fail("truncated header");
  size_t headerLength =
      readLittleEndian(contents.data() + kMagicSize + 2, lengthBytes);
  if (contents.size() < prefix + headerLength)
    return fail("truncated header: expected " + std::to_string(headerLength) +
                " bytes, found " + std::to_string(contents.size() - prefix));
  // v1 and v2 headers are latin-1, v3 UTF-8; the dict numpy writes is ASCII
  // either way, so the bytes parse as they are.
  std::string header(contents.begin() + prefix,
                     contents.begin() + prefix + headerLength);

  std::string descr, problem;
  bool fortranOrder = false;
  HostTensor tensor;
  if (!HeaderParser(header).parse(descr, fortranOrder, tensor.shape, problem))
    return fail(problem);
  std::optional<DType> dtype = parseDescr(descr, problem);
  if (!dtype)
    return fail(problem);
  tensor.dtype = *dtype;
  // A 0-d or 1-d array is the same in either order; numpy still writes
  // fortran_order: False for them, but accept True as well.
  if (fortranOrder && tensor.shape.size() > 1)
    return fail("Fortran order is not supported (save a C-contiguous array, "
                "e.g. np.ascontiguousarray)");

  std::optional<int64_t> count = checkedNumElements(tensor.shape);
  if (!count ||
      *count > std::numeric_limits<int64_t>::max() / dtypeSize(tensor.dtype))
    return fail("shape " + shapeToPython(tensor.shape) + " is too large");
  uint64_t expected = static_cast<uint64_t>(*count) * dtypeSize(tensor.dtype);
  uint64_t found = contents.size() - prefix - headerLength;
  if (found < expected)
    return fail("truncated data: expected " + std::to_string(expected) +
                " bytes, found " + std::to_string(found));
  if (found > expected)
    return fail("unexpected " + std::to_string(found - expected) +
                " bytes after the data (expected " + std::to_string(expected) +
                ")");
  tensor.bytes.assign(contents.begin() + prefix + headerLength,
                      contents.end());
  return tensor;
}

bool writeNpy(const std::string &path, const HostTensor &tensor,
              std::string &error) {
  auto fail = [&](const std::string &problem) {
    error = path + ": " + problem;
    return false;
  };

  std::optional<int64_t> count = checkedNumElements(tensor.shape);
  if (!count)
    return fail("invalid shape " + shapeToPython(tensor.shape));
  uint64_t expected = static_cast<uint64_t>(*count) * dtypeSize(tensor.dtype);
  if (tensor.bytes.size() != expected)
    return fail("tensor has " + std::to_string(tensor.bytes.size()) +
                " bytes but its shape needs " + std::to_string(expected));

  std::string dict = std::string("{'descr': '") + dtypeDescr(tensor.dtype) +
                     "', 'fortran_order': False, 'shape': " +
                     shapeToPython(tensor.shape) + ", }";
  // Version 1.0 stores the header length in 2 bytes; only a header too long
  // for that (a shape with thousands of dimensions) needs version 2.0.
  int major = 1;
  size_t prefix = kMagicSize + 2 + 2;
  size_t unpadded = prefix + dict.size() + 1; // + '\n'
  size_t total = (unpadded + kHeaderAlignment - 1) / kHeaderAlignment *
                 kHeaderAlignment;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = kMagicSize + 2 + 4;
    unpadded = prefix + dict.size() + 1;
    total = (unpadded + kHeaderAlignment - 1) / kHeaderAlignment *
            kHeaderAlignment;
  }
  size_t headerLength = total - prefix;
  std::string header(kMagic, kMagicSize);
  header += static_cast<char>(major);
  header += '\0';
  for (size_t i = 0; i < prefix - kMagicSize - 2; ++i)
    header += static_cast<char>((headerLength >> (8 * i)) & 0xff);
  header += dict;
  header.append(total - unpadded, ' ');
  header += '\n';

  // Write beside the destination and rename over it: readers never see a
  // partial file, and a failed write leaves nothing behind.
  std::string temporary = path + ".tmp." + std::to_string(::getpid());
  std::FILE *out = std::fopen(temporary.c_str(), "wb");
  if (!out)
    return fail(std::string("cannot create: ") + std::strerror(errno));
  bool written =
      std::fwrite(header.data(), 1, header.size(), out) == header.size() &&
      std::fwrite(tensor.bytes.data(), 1, tensor.bytes.size(), out) ==
          tensor.bytes.size();
  int writeErrno = errno;
  if (std::fclose(out) != 0 && written) {
    written = false;
    writeErrno = errno;
  }
  if (!written) {
    std::remove(temporary.c_str());
    return fail(std::string("write error: ") + std::strerror(writeErrno));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    int renameErrno = errno;
    std::remove(temporary.c_str());
    return fail(std::string("cannot create: ") + std::strerror(renameErrno));
  }
  return true;
}

std::vector<float> toFloat32(const HostTensor &tensor) {
  int64_t n = tensor.numElements();
  std::vector<float> values(n);
  const uint8_t *p = tensor.bytes.data();
  int size = dtypeSize(tensor.dtype);
  for (int64_t i = 0; i < n; ++i, p += size) {
    switch (tensor.dtype) {
    case DType::F32:
      values[i] = load<float>(p);
      break;
    case DType::F16:
      values[i] = halfToFloat(load<uint16_t>(p));
      break;
    case DType::F64:
      values[i] = static_cast<float>(load<double>(p));
      break;
    case DType::I8:
      values[i] = load<int8_t>(p);
      break;
    case DType::I16:
      values[i] = load<int16_t>(p);
      break;
    case DType::I32:
      values[i] = static_cast<float>(load<int32_t>(p));
      break;
    case DType::I64:
      values[i] = static_cast<float>(load<int64_t>(p));
      break;
    case DType::U8:
      values[i] = *p;
      break;
    case DType::Bool:
      values[i] = *p != 0 ? 1.0f : 0.0f;
      break;
    }
  }
  return values;
}

HostTensor fromFloat32(const std::vector<float> &values,
                       const std::vector<int64_t> &shape) {
  HostTensor tensor;
  tensor.dtype = DType::F32;
  tensor.shape = shape;
  tensor.bytes.resize(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

} // namespace quantc
