// SPDX-License-Identifier: MIT
// shim_cxx_replaced.cc - a program that replaces only operator new(size_t) and
// operator delete(void *), with a header in front of each block (as pools and leak
// trackers do). The compiler still emits sized deletes, and libstdc++ routes array and
// nothrow forms to these two; an allocator that sends those forms straight to its own
// free hands it a pointer 16 bytes into a block and crashes.
// GCC warns that such a program "should also define" the sized delete: that is the case
// under test.
#pragma GCC diagnostic ignored "-Wsized-deallocation"

#include <cstdio>
#include <cstdlib>
#include <new>

static long live;

void *operator new(std::size_t n) {
    char *p = static_cast<char *>(std::malloc(n + 16));
    if (p == nullptr) throw std::bad_alloc();
    live++;
    return p + 16;
}

void operator delete(void *p) noexcept {
    if (p == nullptr) return;
    live--;
    std::free(static_cast<char *>(p) - 16);
}

struct Node {
    long v;
    Node *next;
};

int main() {
    long sum = 0;
    for (int round = 0; round < 100; round++) {
        Node *head = nullptr;
        for (long i = 0; i < 1000; i++)
            head = new Node{i, head};
        while (head != nullptr) {
            Node *n = head->next;
            sum += head->v;
            delete head; // sized delete: operator delete(void *, size_t)
            head = n;
        }
        int *arr = new int[100];
        delete[] arr; // array delete -> operator delete(void *)
        double *d = new (std::nothrow) double(1.5);
        delete d;
    }
    std::printf("sum %ld, live %ld\n", sum, live);
    return live == 0 ? 0 : 1;
}
