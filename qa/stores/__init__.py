"""Where passages live: one small interface (``base.Store``), one module per engine.

``files``: FAISS + bm25s + JSONL tables in a folder (the embedded default);
``milvus``: a Milvus collection (milvus-lite from a file path, or a server by URI).
"""
