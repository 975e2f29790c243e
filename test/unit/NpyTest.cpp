//===- NpyTest.cpp - Tests of .npy reading and writing --------------------===//

#include "quantc/Runtime/Npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include <gtest/gtest.h>
#include <unistd.h>

using namespace quantc;

namespace {

/// A fresh path in the test's temporary directory.
std::string tempPath(const std::string &name) {
  const ::testing::TestInfo *test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "quantc_" + test->name() + "_" +
         std::to_string(::getpid()) + "_" + name;
}

bool fileExists(const std::string &path) {
  return std::ifstream(path).good();
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// A .npy file image with `dict` as its header, as numpy would lay it out.
std::string npyImage(const std::string &dict, const std::string &data,
                     int major = 1) {
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t prefix = 8 + lengthBytes;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  size_t headerLength = total - prefix;
  std::string image = "\x93NUMPY";
  image += static_cast<char>(major);
  image += '\0';
  for (size_t i = 0; i < lengthBytes; ++i)
    image += static_cast<char>((headerLength >> (8 * i)) & 0xff);
  image += dict;
  image.append(total - prefix - dict.size() - 1, ' ');
  image += '\n';
  return image + data;
}

template <typename T> std::string rawBytes(std::initializer_list<T> values) {
  std::string bytes;
  for (T v : values)
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(T));
  return bytes;
}

HostTensor tensorOf(DType dtype, std::vector<int64_t> shape) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(t.numElements() * dtypeSize(dtype));
  // Every byte distinct-ish so a misplaced byte shows up.
  for (size_t i = 0; i < t.bytes.size(); ++i)
    t.bytes[i] = static_cast<uint8_t>(i * 37 + 11);
  if (dtype == DType::Bool)
    for (uint8_t &b : t.bytes)
      b &= 1;
  return t;
}

std::string readError(const std::string &path) {
  std::string error;
  std::optional<HostTensor> t = readNpy(path, error);
  EXPECT_FALSE(t.has_value());
  return error;
}

const DType kAllDTypes[] = {DType::F32, DType::F16, DType::F64,
                            DType::I8,  DType::I16, DType::I32,
                            DType::I64, DType::U8,  DType::Bool};

} // namespace

TEST(NpyDType, SizesDescrsAndNames) {
  EXPECT_EQ(dtypeSize(DType::F32), 4);
  EXPECT_EQ(dtypeSize(DType::F16), 2);
  EXPECT_EQ(dtypeSize(DType::I64), 8);
  EXPECT_EQ(dtypeSize(DType::Bool), 1);
  EXPECT_STREQ(dtypeDescr(DType::F32), "<f4");
  EXPECT_STREQ(dtypeDescr(DType::I8), "|i1");
  EXPECT_STREQ(dtypeDescr(DType::U8), "|u1");
  EXPECT_STREQ(dtypeDescr(DType::Bool), "|b1");
  EXPECT_STREQ(dtypeName(DType::U8), "ui8");
  EXPECT_STREQ(dtypeName(DType::Bool), "i1");
  EXPECT_STREQ(dtypeName(DType::F64), "f64");
}

TEST(NpyRoundTrip, EveryDType) {
  for (DType dtype : kAllDTypes) {
    SCOPED_TRACE(dtypeName(dtype));
    HostTensor original = tensorOf(dtype, {3, 5, 2});
    std::string path = tempPath(std::string(dtypeName(dtype)) + ".npy");
    std::string error;
    ASSERT_TRUE(writeNpy(path, original, error)) << error;
    std::optional<HostTensor> back = readNpy(path, error);
    ASSERT_TRUE(back.has_value()) << error;
    EXPECT_EQ(back->dtype, original.dtype);
    EXPECT_EQ(back->shape, original.shape);
    EXPECT_EQ(back->bytes, original.bytes);
    std::remove(path.c_str());
  }
}

TEST(NpyRoundTrip, ZeroDimensionalAndEmpty) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {4, 0, 3}, {1}};
  for (const auto &shape : shapes) {
    HostTensor original = tensorOf(DType::F32, shape);
    std::string path = tempPath("shape.npy");
    std::string error;
    ASSERT_TRUE(writeNpy(path, original, error)) << error;
    std::optional<HostTensor> back = readNpy(path, error);
    ASSERT_TRUE(back.has_value()) << error;
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->bytes, original.bytes);
    EXPECT_EQ(back->numElements(), original.numElements());
    std::remove(path.c_str());
  }
}

TEST(NpyWrite, HeaderMatchesNumpyLayout) {
  HostTensor t = fromFloat32({1.0f, 2.0f}, {2});
  std::string path = tempPath("layout.npy");
  std::string error;
  ASSERT_TRUE(writeNpy(path, t, error)) << error;
  std::string image = readFile(path);
  // Exactly what numpy.save writes for np.array([1, 2], np.float32).
  EXPECT_EQ(image, npyImage("{'descr': '<f4', 'fortran_order': False, "
                            "'shape': (2,), }",
                            rawBytes<float>({1.0f, 2.0f})));
  EXPECT_EQ((image.size() - 8) % 64, 0u);
  EXPECT_EQ(image[6], 1);
  EXPECT_EQ(image[7], 0);
  std::remove(path.c_str());
}

TEST(NpyWrite, FailureLeavesNoFile) {
  std::string error;
  // Bytes that do not match the shape.
  HostTensor bad = fromFloat32({1.0f, 2.0f, 3.0f}, {2, 2});
  std::string path = tempPath("bad.npy");
  EXPECT_FALSE(writeNpy(path, bad, error));
  EXPECT_NE(error.find(path + ": "), std::string::npos) << error;
  EXPECT_FALSE(fileExists(path));
  EXPECT_FALSE(fileExists(path + ".tmp." + std::to_string(::getpid())));

  // A directory that does not exist.
  std::string missingDir = tempPath("no_such_dir") + "/out.npy";
  EXPECT_FALSE(writeNpy(missingDir, fromFloat32({1.0f}, {1}), error));
  EXPECT_EQ(error.rfind(missingDir + ": cannot create", 0), 0u) << error;
}

TEST(NpyWrite, ReplacesExistingFile) {
  std::string path = tempPath("replace.npy");
  writeFile(path, "old contents");
  std::string error;
  ASSERT_TRUE(writeNpy(path, fromFloat32({5.0f}, {}), error)) << error;
  std::optional<HostTensor> back = readNpy(path, error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(toFloat32(*back), std::vector<float>{5.0f});
  std::remove(path.c_str());
}

TEST(NpyRead, HeaderVariants) {
  struct Case {
    std::string dict;
    int major;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const Case cases[] = {
      {"{'descr': '<i1', 'fortran_order': False, 'shape': (2,), }", 1,
       DType::I8, {2}},
      {"{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", 1,
       DType::I8, {2}},
      {"{'descr': '<u1', 'fortran_order': False, 'shape': (1, 2), }", 2,
       DType::U8, {1, 2}},
      {"{\"shape\": (2,), \"descr\": \"|b1\", \"fortran_order\": False}", 3,
       DType::Bool, {2}},
      {"{'descr':'<f2','fortran_order':False,'shape':(1,)}", 1, DType::F16,
       {1}},
      // Fortran order is the same as C order for 1-d arrays.
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (), }", 1, DType::F32,
       {}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.dict);
    std::string path = tempPath("variant.npy");
    int64_t count = 1;
    for (int64_t d : c.shape)
      count *= d;
    writeFile(path, npyImage(c.dict, std::string(count * dtypeSize(c.dtype),
                                                 '\1'),
                             c.major));
    std::string error;
    std::optional<HostTensor> t = readNpy(path, error);
    ASSERT_TRUE(t.has_value()) << error;
    EXPECT_EQ(t->dtype, c.dtype);
    EXPECT_EQ(t->shape, c.shape);
    std::remove(path.c_str());
  }
}

TEST(NpyRead, MalformedFilesNameTheFileAndTheProblem) {
  const std::string f4x4 =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  struct Case {
    std::string image;
    std::string message;
  };
  const Case cases[] = {
      {"", "not a .npy file (bad magic)"},
      {"PK\3\4 this is a zip", "not a .npy file (bad magic)"},
      {npyImage(f4x4, "", 7), "unsupported .npy version 7.0"},
      {npyImage(f4x4, "").substr(0, 40), "truncated header: expected 118 "
                                         "bytes, found 30"},
      {npyImage(f4x4, std::string(10, '\0')),
       "truncated data: expected 16 bytes, found 10"},
      {npyImage(f4x4, std::string(17, '\0')),
       "unexpected 1 bytes after the data (expected 16)"},
      {npyImage("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                std::string(16, '\0')),
       "Fortran order is not supported (save a C-contiguous array, e.g. "
       "np.ascontiguousarray)"},
      {npyImage("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }",
                std::string(16, '\0')),
       "big-endian data ('>f4') is not supported"},
      {npyImage("{'descr': '|O', 'fortran_order': False, 'shape': (4,), }",
                std::string(32, '\0')),
       "object arrays are not supported"},
      {npyImage("{'descr': [('a', '<f4')], 'fortran_order': False, "
                "'shape': (4,), }",
                std::string(16, '\0')),
       "structured dtypes are not supported"},
      {npyImage("{'descr': '<c8', 'fortran_order': False, 'shape': (4,), }",
                std::string(32, '\0')),
       "unsupported dtype '<c8' (supported: f32, f16, f64, i8, i16, i32, "
       "i64, u8, bool)"},
      {npyImage("{'descr': '<f4', 'shape': (4,), }", std::string(16, '\0')),
       "malformed header: needs 'descr', 'fortran_order' and 'shape'"},
      {npyImage("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }",
                ""),
       "malformed header: 'shape' is not a tuple of non-negative integers"},
      {npyImage("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,), }", ""),
       "malformed header: 'fortran_order' is not a boolean"},
      {npyImage("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), "
                "'extra': 1}",
                ""),
       "malformed header: unexpected key 'extra'"},
      {npyImage("['descr', '<f4']", ""), "malformed header: expected '{'"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.message);
    std::string path = tempPath("malformed.npy");
    writeFile(path, c.image);
    EXPECT_EQ(readError(path), path + ": " + c.message);
    std::remove(path.c_str());
  }
}

TEST(NpyRead, MissingFile) {
  std::string path = tempPath("does_not_exist.npy");
  EXPECT_EQ(readError(path), path + ": cannot open: No such file or directory");
}

TEST(NpyToFloat32, Half) {
  HostTensor t;
  t.dtype = DType::F16;
  t.shape = {10};
  t.bytes.resize(20);
  const uint16_t codes[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400,
                            0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555};
  std::memcpy(t.bytes.data(), codes, sizeof(codes));
  std::vector<float> v = toFloat32(t);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
  EXPECT_EQ(v[2], std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(v[3], std::ldexp(1023.0f, -24)); // largest subnormal
  EXPECT_EQ(v[4], std::ldexp(1.0f, -14));    // smallest normal
  EXPECT_EQ(v[5], 65504.0f);
  EXPECT_EQ(v[6], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[7], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[8], 0.0f);
  EXPECT_TRUE(std::signbit(v[8]));
  EXPECT_EQ(v[9], 0x555 / 1024.0f * 0.25f); // 0.333251953125

  const uint16_t nan = 0x7e00;
  std::memcpy(t.bytes.data(), &nan, 2);
  EXPECT_TRUE(std::isnan(toFloat32(t)[0]));
}

TEST(NpyToFloat32, IntegersDoublesAndBool) {
  auto convert = [](DType dtype, const std::string &bytes) {
    HostTensor t;
    t.dtype = dtype;
    t.shape = {static_cast<int64_t>(bytes.size() / dtypeSize(dtype))};
    t.bytes.assign(bytes.begin(), bytes.end());
    return toFloat32(t);
  };
  using V = std::vector<float>;
  EXPECT_EQ(convert(DType::F64, rawBytes<double>({0.1, -3.0, 1e300})),
            (V{0.1f, -3.0f, std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(convert(DType::I8, rawBytes<int8_t>({-128, 0, 127})),
            (V{-128, 0, 127}));
  EXPECT_EQ(convert(DType::U8, rawBytes<uint8_t>({0, 200, 255})),
            (V{0, 200, 255}));
  EXPECT_EQ(convert(DType::I16, rawBytes<int16_t>({-32768, 7})),
            (V{-32768, 7}));
  EXPECT_EQ(convert(DType::I32, rawBytes<int32_t>({-5, 16777217})),
            (V{-5, 16777216.0f}));
  EXPECT_EQ(convert(DType::I64, rawBytes<int64_t>({int64_t(1) << 40, -1})),
            (V{1099511627776.0f, -1}));
  EXPECT_EQ(convert(DType::Bool, rawBytes<uint8_t>({0, 1, 2})),
            (V{0, 1, 1}));
}

TEST(NpyFromFloat32, KeepsValuesAndShape) {
  HostTensor t = fromFloat32({1.5f, -0.0f, 3.0f, 4.0f}, {2, 2});
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.numElements(), 4);
  EXPECT_EQ(t.data<float>()[0], 1.5f);
  EXPECT_TRUE(std::signbit(t.data<float>()[1]));
  EXPECT_EQ(toFloat32(t), (std::vector<float>{1.5f, -0.0f, 3.0f, 4.0f}));
}
