/* pyconfig.h for compiling extension modules of the official Windows CPython (x86_64,
 * built with MSVC) with mingw-w64's GCC on Linux: scripts/windows/build_core.py.
 *
 * The headers of Include/ are the same on every platform; this file supplies what the
 * Windows build of CPython decided -- type sizes of the LLP64 model (long is 32 bits), the
 * DLL linkage of the C API (declspec(dllimport) from pythonXY.dll) and the platform
 * names.  Only what an extension module sees is here; nothing of the interpreter's own
 * build.  Written for fastrec (not taken from CPython's PC/pyconfig.h.in, whose MSVC-only
 * parts -- #pragma comment(lib) and _MSC_VER checks -- do not apply to GCC).
 */
#ifndef Py_CONFIG_H
#define Py_CONFIG_H

#if !defined(_WIN64) || !defined(__x86_64__)
#error "this pyconfig.h describes the win_amd64 CPython only"
#endif

#define MS_WIN32
#define MS_WIN64
#define MS_WINDOWS
#define MS_WINDOWS_DESKTOP 1
#define NT_THREADS
#define WITH_THREAD
#define PLATFORM "win32"

/* the C API lives in pythonXY.dll */
#define Py_ENABLE_SHARED 1
#define HAVE_DECLSPEC_DLL

/* LLP64 */
#define SIZEOF_SHORT 2
#define SIZEOF_INT 4
#define SIZEOF_LONG 4
#define SIZEOF_LONG_LONG 8
#define SIZEOF_VOID_P 8
#define SIZEOF_SIZE_T 8
#define SIZEOF_TIME_T 8
#define SIZEOF_OFF_T 4
#define SIZEOF_FPOS_T 8
#define SIZEOF_WCHAR_T 2
#define SIZEOF_FLOAT 4
#define SIZEOF_DOUBLE 8
#define SIZEOF__BOOL 1
#define ALIGNOF_SIZE_T 8
#define ALIGNOF_LONG 4
#define ALIGNOF_MAX_ALIGN_T 8 /* MSVC's max_align_t is double; GCC's is 16 */

#define HAVE_SSIZE_T 1
#define HAVE_WCHAR_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_DYNAMIC_LOADING 1
#define DOUBLE_IS_LITTLE_ENDIAN_IEEE754 1
#define WORD_BIT 32

#endif /* Py_CONFIG_H */
