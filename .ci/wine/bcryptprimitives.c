/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Rust programs
 * under Wine 8 (Debian 12), which has no such DLL.
 *
 * Rust's std (1.78 and later) takes its random bytes (HashMap keys, ...)
 * from ProcessPrng in bcryptprimitives.dll, linked at load time; without the
 * DLL every Rust .exe dies before main with status 53 (0x35) and no message.
 * This file exports that one function, filling the buffer from advapi32's
 * RtlGenRandom (SystemFunction036), which Wine implements.
 *
 * Build (the `setup` script beside this file does it):
 *   x86_64-w64-mingw32-gcc -O2 -shared -s -o bcryptprimitives.dll \
 *       bcryptprimitives.c -ladvapi32
 * then copy the DLL into $WINEPREFIX/drive_c/windows/system32.
 */
#include <windows.h>

/* advapi32's RtlGenRandom, exported under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): documented to always
 * return TRUE (callers need not check); fills cbData bytes at pbData. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH)
        DisableThreadLibraryCalls(instance);
    return TRUE;
}
