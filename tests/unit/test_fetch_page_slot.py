"""A fetch process holds a bounded number of parsed pages, however many are in flight."""

from __future__ import annotations

import threading

from stkpi.fetch_pass import PageSlot


def test_a_slot_is_taken_once_and_always_given_back():
    pages = threading.BoundedSemaphore(1)
    with PageSlot(pages) as slot:
        slot.take()
        slot.take()  # a resent body: still one turn
        assert not pages.acquire(blocking=False)
    assert pages.acquire(blocking=False)  # given back on leaving
    pages.release()
    try:
        with PageSlot(pages) as slot:
            slot.take()
            raise ValueError("page failed to convert")
    except ValueError:
        pass
    assert pages.acquire(blocking=False)  # given back on failure too


def test_a_third_page_waits_until_one_of_two_is_written():
    pages = threading.BoundedSemaphore(2)
    holding = threading.Barrier(3)
    release = threading.Event()
    third_took = threading.Event()

    def hold() -> None:
        with PageSlot(pages) as slot:
            slot.take()
            holding.wait()
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
    holding.wait()  # both hold a parsed page

    def third() -> None:
        with PageSlot(pages) as slot:
            slot.take()
            third_took.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    assert not third_took.wait(0.2)  # blocked while two pages are held
    release.set()
    waiter.join(5)
    assert third_took.is_set()
    for t in holders:
        t.join(5)
