/* bcryptprimitives.dll for Wine 8, which lacks it: ProcessPrng, the one function Rust's
 * standard library (1.78+) imports from it for random bytes -- pydantic-core's wheel does.
 * Built by scripts/test-windows.sh and put beside python.exe; a real Windows has its own.
 * Backed by RtlGenRandom (advapi32 SystemFunction036), the system's CSPRNG. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
