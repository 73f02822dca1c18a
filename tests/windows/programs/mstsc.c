/* A stand-in for mstsc.exe in the Windows suite (tests/windows): one top-level window of
 * mstsc's class, TscShellContainerClass, whose client area shows a picture the tests know.
 *
 *   mstsc.exe [/v:HOST] [/geometry:X,Y,WIDTH,HEIGHT] [/title:TEXT] [/class:NAME]
 *
 * The client area is WIDTH x HEIGHT at screen position X,Y (default 100,100,640,480): four
 * solid quadrants -- red top left, green top right, blue bottom left, white bottom right --
 * and a 32x32 square in the middle that turns between black and yellow ten times a second,
 * so that the screen keeps changing.  /v: is what the connection monitor reads; the
 * window's title is "HOST - Remote Desktop Connection" unless /title: says otherwise;
 * /class: gives the window another class (the tests' covering window, run as cover.exe).
 * The program exits when its window is closed.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

static int blink;

static void fill(HDC dc, int l, int t, int r, int b, COLORREF colour)
{
    RECT rect = {l, t, r, b};
    HBRUSH brush = CreateSolidBrush(colour);
    FillRect(dc, &rect, brush);
    DeleteObject(brush);
}

static LRESULT CALLBACK window_proc(HWND hwnd, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_TIMER:
        blink = !blink;
        InvalidateRect(hwnd, NULL, FALSE);
        return 0;
    case WM_PAINT: {
        PAINTSTRUCT ps;
        RECT c;
        HDC dc = BeginPaint(hwnd, &ps);
        GetClientRect(hwnd, &c);
        int mx = c.right / 2, my = c.bottom / 2;
        fill(dc, 0, 0, mx, my, RGB(255, 0, 0));
        fill(dc, mx, 0, c.right, my, RGB(0, 255, 0));
        fill(dc, 0, my, mx, c.bottom, RGB(0, 0, 255));
        fill(dc, mx, my, c.right, c.bottom, RGB(255, 255, 255));
        fill(dc, mx - 16, my - 16, mx + 16, my + 16, blink ? RGB(255, 255, 0) : RGB(0, 0, 0));
        EndPaint(hwnd, &ps);
        return 0;
    }
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcW(hwnd, msg, wp, lp);
}

int WINAPI wWinMain(HINSTANCE instance, HINSTANCE prev, PWSTR cmdline, int show)
{
    int argc, x = 100, y = 100, width = 640, height = 480;
    wchar_t title[512] = L"", cls[257] = L"TscShellContainerClass";
    const wchar_t *host = L"localhost";
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    for (int i = 1; i < argc; i++) {
        if (!wcsncmp(argv[i], L"/v:", 3))
            host = argv[i] + 3;
        else if (!wcsncmp(argv[i], L"/geometry:", 10))
            swscanf(argv[i] + 10, L"%d,%d,%d,%d", &x, &y, &width, &height);
        else if (!wcsncmp(argv[i], L"/title:", 7))
            wcsncpy(title, argv[i] + 7, 511);
        else if (!wcsncmp(argv[i], L"/class:", 7))
            wcsncpy(cls, argv[i] + 7, 256);
    }
    if (!title[0])
        _snwprintf(title, 511, L"%ls - Remote Desktop Connection", host);

    WNDCLASSW wc = {0};
    wc.lpfnWndProc = window_proc;
    wc.hInstance = instance;
    wc.hCursor = LoadCursor(NULL, IDC_ARROW);
    wc.lpszClassName = cls;
    RegisterClassW(&wc);

    DWORD style = WS_OVERLAPPEDWINDOW;
    RECT frame = {0, 0, width, height};
    AdjustWindowRect(&frame, style, FALSE);
    HWND hwnd = CreateWindowW(wc.lpszClassName, title, style, x + frame.left, y + frame.top,
                              frame.right - frame.left, frame.bottom - frame.top,
                              NULL, NULL, instance, NULL);
    if (!hwnd)
        return 1;
    ShowWindow(hwnd, SW_SHOWNORMAL);
    SetTimer(hwnd, 1, 100, NULL);
    MSG msg;
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
    return 0;
}
