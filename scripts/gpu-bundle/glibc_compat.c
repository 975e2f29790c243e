/* Keeps the bundle's programs loadable with glibc 2.34 and 2.35 (Ubuntu
 * 22.04, RHEL 9) although they are linked here against glibc 2.36:
 * libstdc++.a's std::random_device (pulled in by the string instantiations,
 * never called by the bundle) refers to arc4random, which glibc versions as
 * GLIBC_2.36. A definition in the executable satisfies that reference, so no
 * GLIBC_2.36 symbol is imported. getrandom is glibc 2.25. */
#include <stdint.h>
#include <sys/random.h>

uint32_t arc4random(void) {
  uint32_t value = 0;
  while (getrandom(&value, sizeof(value), 0) != (long)sizeof(value)) {
  }
  return value;
}
